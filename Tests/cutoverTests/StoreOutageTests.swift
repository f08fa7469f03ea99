import CutoverAdmin
import CutoverTestSupport
import Foundation
import Testing

/// `cutover serve` on a PostgreSQL store that goes down and comes back: the proxy serves throughout, the admin API
/// refuses at once with the reason instead of waiting on the store, and `/healthz` tells.
extension ServeTests {
    func health(_ admin: Int) async throws -> String {
        try await get(admin, "/healthz").text
    }

    func adminCall(_ admin: Int, _ target: String, token: String) async throws -> TestResponse {
        let client = try await TestConnection.connect(port: admin)
        try await client.send("GET \(target) HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(token)\r\n\r\n")
        let response = try await client.response()
        await client.close()
        return response
    }

    @Test func whileThePostgreSQLStoreIsDownTheAdminAPIAnswersAtOnceAndHealthzSaysSo() async throws {
        let server = try TestPostgres.dedicated()
        defer { server.remove() }
        let url = try server.createDatabase()
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", shadowConfig(old: old.url, new: new.url, folder: folder,
                                                                 digest: TokenAuthenticator.digest(Self.viewerToken))
            .replacingOccurrences(of: "store: \"sqlite:\(folder.path)/cutover.db\"", with: "store: \"\(url)\""))
        let (process, proxy, admin) = try await serve(file)
        defer { process.terminate() }
        try await waitUntil("the store to be up") { try await self.health(admin).contains("\"state\":\"up\"") }
        #expect(try await health(admin).contains("\"status\":\"ok\""))
        #expect(try await adminCall(admin, "/api/v1/diffs/summary", token: Self.viewerToken).status == 200)

        try server.stopServer()
        try await waitUntil("healthz to report the store down") { try await self.health(admin).contains("\"state\":\"down\"") }
        let report = try await health(admin)
        #expect(report.contains("\"status\":\"degraded\""), "\(report)")
        for target in ["/api/v1/diffs/summary", "/api/v1/routes", "/api/v1/audit", "/api/v1/instances", "/api/v1/reconcile/runs"] {
            let refused = try await adminCall(admin, target, token: Self.viewerToken)
            #expect(refused.status == 503, "\(target): \(refused)")
            // This reason comes from the store's known state; a call that waited on the store would name its timeout.
            #expect(refused.text.contains("the store has not answered since"), "\(target): \(refused.text)")
            #expect(refused.value("retry-after") == "1")
        }
        #expect(try await get(proxy, "/orders/1").text == "old", "the proxy serves while the store is down")

        try server.startServer()
        try await waitUntil("the store to be up again") { try await self.health(admin).contains("\"state\":\"up\"") }
        #expect(try await adminCall(admin, "/api/v1/diffs/summary", token: Self.viewerToken).status == 200)
        process.signal(SIGTERM)
        #expect(try await process.exitStatus() == 0)
        await old.stop()
        await new.stop()
    }
}
