import CutoverAdmin
import CutoverTestSupport
import Foundation
import Testing

/// Phase shadow through `cutover serve`: the comparator's report read back with
/// `cutover diffs`, and the store's files checked for secrets.
extension ServeTests {
    static var viewerToken: String { "test-viewer-token" }

    /// New's answer, gzip-compressed: the same document as old's but for `total` (11 instead of 10).
    static var newGzipBody: [UInt8] {
        Array(Data(base64Encoded:
        "H4sIAAAAAAACA6tWykxRsjLUUUrNTczMUbJSSszJTE51SK1IzC3ISdVLzs9V0lEqTk0uSi1RsqpWSk4sAipXMjFEBUq1Okp5+SWpQKlgY+cg1xBdJ3+XSKDOkvySRKCphoa1AKwbOvVpAAAA")!)
    }
    static var oldBody: String { #"{"id":1,"email":"alice@example.com","secret":{"card":"4111111111111111"},"note":"S3CRET-BODY","total":10}"# }

    func shadowConfig(old: String, new: String, folder: TemporaryFolder, digest: String) -> String {
        """
        listen: "127.0.0.1:0"
        admin:
          listen: "127.0.0.1:0"
          tokens: [{ name: reviewer, role: viewer, sha256: "\(digest)" }]
        store: "sqlite:\(folder.path)/cutover.db"
        backends:
          old: { url: "\(old)" }
          new: { url: "\(new)" }
        routes:
          - name: orders
            match: { prefix: /orders }
            phase: shadow
            compare: { redact: ["/email", "/secret/card"] }
        """
    }

    /// The summary's JSON for `route` once `compared` pairs are stored (the comparator writes every second).
    func summary(admin: Int, token: String, compared: Int) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let client = try await TestConnection.connect(port: admin)
            try await client.send("GET /api/v1/diffs/summary HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(token)\r\n\r\n")
            let text = try await client.response().text
            await client.close()
            if text.contains("\"compared\":\(compared),") { return text }
            guard ContinuousClock.now < deadline else { throw TimedOut(what: "\(compared) compared pairs in \(text)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func shadowDiffsAreReportedByTheCLIAndSecretsNeverReachTheStore() async throws {
        let old = try await TestBackend.start { _ in
            .send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: session=COOKIE-SECRET-OLD\r\n"
                + "Content-Length: \(Self.oldBody.utf8.count)\r\n\r\n" + Self.oldBody)
        }
        let new = try await TestBackend.start { _ in
            .sendBytes(head: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                + "Set-Cookie: session=COOKIE-SECRET-NEW\r\nContent-Length: \(Self.newGzipBody.count)\r\n\r\n", body: Self.newGzipBody)
        }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let digest = TokenAuthenticator.digest(Self.viewerToken)
        let file = try folder.write("cutover.yaml", shadowConfig(old: old.url, new: new.url, folder: folder, digest: digest))
        let (process, proxy, admin) = try await serve(file)
        defer { process.terminate() }

        for index in 1...5 {
            let client = try await TestConnection.connect(port: proxy)
            try await client.send("GET /orders/\(index) HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer CLIENT-AUTH-SECRET\r\n"
                + "Cookie: sid=CLIENT-COOKIE-SECRET\r\n\r\n")
            #expect(try await client.response().text == Self.oldBody)
            await client.close()
        }
        _ = try await summary(admin: admin, token: Self.viewerToken, compared: 5)

        let adminURL = "http://127.0.0.1:\(admin)"
        let environment = ["CUTOVER_TOKEN": Self.viewerToken]
        let table = try await CutoverProcess.run(["diffs", "summary", "--admin", adminURL], environment: environment)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("orders: 5 compared, 5 differing (100.00%), 0 with noise only"), "\(table.stdout)")
        let totalLine = table.stdout.split(separator: "\n").first { $0.contains("/total") }.map(String.init) ?? ""
        #expect(totalLine.split(separator: " ", omittingEmptySubsequences: true).prefix(4) == ["/total", "difference", "5", "0"],
                "gzip is undone before comparing: only total differs (\(table.stdout))")
        #expect(!table.stdout.contains("body"))

        let shown = try await CutoverProcess.run(["diffs", "show", "--admin", adminURL, "--route", "orders", "--field", "/total",
                                                  "--limit", "2", "--json"], environment: environment)
        #expect(shown.status == 0, "\(shown.stderr)")
        let samples = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        let list = try #require(samples?["samples"] as? [[String: Any]])
        #expect(list.count == 2)
        let newBody = ((list.first?["new"] as? [String: Any])?["body"] as? String) ?? ""
        #expect(newBody.contains(#""total":11"#), "the stored new answer is the decompressed document: \(newBody)")
        #expect(newBody.contains(#""email":"[redacted]""#))

        let human = try await CutoverProcess.run(["diffs", "show", "--admin", adminURL, "--route", "orders", "--limit", "1"],
                                                 environment: environment)
        #expect(human.stdout.contains("GET /orders/"))
        #expect(human.stdout.contains("old 200, new 200"))
        #expect(human.stdout.contains(#""email":"[redacted]""#))
        #expect(!human.stdout.contains("alice@example.com"))

        // The store's files themselves: every secret replaced, the rest kept as answered.
        process.signal(SIGTERM)
        #expect(try await process.exitStatus() == 0)
        var stored = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasPrefix("cutover.db") {
            stored.append(try Data(contentsOf: URL(fileURLWithPath: folder.path + "/" + name)))
        }
        let bytes = String(decoding: stored, as: UTF8.self)
        #expect(bytes.contains("S3CRET-BODY"), "the samples are in the files read")
        #expect(bytes.contains("[redacted]"))
        for secret in ["CLIENT-AUTH-SECRET", "CLIENT-COOKIE-SECRET", "COOKIE-SECRET-OLD", "COOKIE-SECRET-NEW",
                       "alice@example.com", "4111111111111111"] {
            #expect(!bytes.contains(secret), "\(secret) must not be stored")
        }
        await old.stop()
        await new.stop()
    }

    /// A difference at `/secret` (new answers null) carries old's whole object, and `/secret/card` is redacted;
    /// the request's query names an access token.
    @Test func aDifferenceAtAParentOfARedactedPathAndSecretQueryParametersAreNeverStored() async throws {
        let old = try await TestBackend.start { _ in
            .send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(Self.oldBody.utf8.count)\r\n\r\n" + Self.oldBody)
        }
        let newBody = #"{"id":1,"email":null,"secret":null,"note":"S3CRET-BODY","total":10}"#
        let new = try await TestBackend.start { _ in
            .send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(newBody.utf8.count)\r\n\r\n" + newBody)
        }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", shadowConfig(old: old.url, new: new.url, folder: folder,
                                                                 digest: TokenAuthenticator.digest(Self.viewerToken))
            .replacingOccurrences(of: #"compare: { redact: ["/email", "/secret/card"] }"#,
                                  with: #"compare: { redact: ["/email", "/secret/card"], redact_query: [Customer-Ref] }"#))
        let (process, proxy, admin) = try await serve(file)
        defer { process.terminate() }
        for index in 1...3 {
            let response = try await get(proxy, "/orders/\(index)?access_token=QUERY-SECRET&page=2&customer-ref=REF-SECRET&API_KEY=KEY-SECRET")
            #expect(response.text == Self.oldBody)
        }
        let summary = try await summary(admin: admin, token: Self.viewerToken, compared: 3)
        #expect(summary.contains(#""path":"\/secret""#), "the parent's difference is reported: \(summary)")
        #expect(!summary.contains("4111111111111111"), "the summary's example keeps the card redacted: \(summary)")

        process.signal(SIGTERM)
        #expect(try await process.exitStatus() == 0)
        var stored = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasPrefix("cutover.db") {
            stored.append(try Data(contentsOf: URL(fileURLWithPath: folder.path + "/" + name)))
        }
        let bytes = String(decoding: stored, as: UTF8.self)
        #expect(bytes.contains("page=2"), "the samples' targets are in the files read")
        #expect(bytes.contains("access_token=[redacted]"))
        for secret in ["4111111111111111", "alice@example.com", "QUERY-SECRET", "REF-SECRET", "KEY-SECRET"] {
            #expect(!bytes.contains(secret), "\(secret) must not be stored")
        }
        await old.stop()
        await new.stop()
    }

    @Test func theDiffsCommandsSayWhatIsWrong() async throws {
        let noToken = try await CutoverProcess.run(["diffs", "summary", "--admin", "http://127.0.0.1:9"], environment: ["CUTOVER_TOKEN": ""])
        #expect(noToken.status == 2)
        #expect(noToken.stderr.contains("set CUTOVER_TOKEN"))
        let badURL = try await CutoverProcess.run(["diffs", "summary", "--admin", "ftp://host"], environment: ["CUTOVER_TOKEN": "x"])
        #expect(badURL.status == 2)
        #expect(badURL.stderr.contains("--admin 'ftp://host' is not an http:// or https:// URL"))
        let badLimit = try await CutoverProcess.run(["diffs", "show", "--route", "r", "--limit", "0"], environment: ["CUTOVER_TOKEN": "x"])
        #expect(badLimit.status == 2)
        #expect(badLimit.stderr.contains("--limit must be from 1 to 200"))
        let missingRoute = try await CutoverProcess.run(["diffs", "show"], environment: ["CUTOVER_TOKEN": "x"])
        #expect(missingRoute.status == 2)
        #expect(missingRoute.stderr.contains("--route"))

        let refusing = try RefusingPort()
        let unreachable = try await CutoverProcess.run(["diffs", "summary", "--admin", "http://127.0.0.1:\(refusing.port)"],
                                                       environment: ["CUTOVER_TOKEN": "x"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("cannot reach the admin API at http://127.0.0.1:\(refusing.port)"))
        withExtendedLifetime(refusing) {}

        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", shadowConfig(old: "http://127.0.0.1:9", new: "http://127.0.0.1:9", folder: folder,
                                                                 digest: TokenAuthenticator.digest(Self.viewerToken)))
        let (process, _, admin) = try await serve(file)
        defer { process.terminate() }
        let wrong = try await CutoverProcess.run(["diffs", "summary", "--admin", "http://127.0.0.1:\(admin)"],
                                                 environment: ["CUTOVER_TOKEN": "not-the-token"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("answered 401: the token is not known"))
        let unknown = try await CutoverProcess.run(["diffs", "show", "--admin", "http://127.0.0.1:\(admin)", "--route", "nope"],
                                                   environment: ["CUTOVER_TOKEN": Self.viewerToken])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("answered 404: no route named 'nope'"))
        let empty = try await CutoverProcess.run(["diffs", "summary", "--admin", "http://127.0.0.1:\(admin)"],
                                                 environment: ["CUTOVER_TOKEN": Self.viewerToken])
        #expect(empty.status == 0)
        #expect(empty.stdout.contains("No pairs compared"))
    }

    @Test func anUnreachableStoreStopsNeitherTheProxyNorTheShadowCopies() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let refusing = try RefusingPort()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let yaml = shadowConfig(old: old.url, new: new.url, folder: folder, digest: TokenAuthenticator.digest(Self.viewerToken))
            .replacingOccurrences(of: "store: \"sqlite:\(folder.path)/cutover.db\"", with: "store: \"postgres://cutover@127.0.0.1:\(refusing.port)/cutover\"")
        let file = try folder.write("cutover.yaml", yaml)
        let (process, proxy, admin) = try await serve(file)
        defer { process.terminate() }
        for _ in 1...3 {
            let response = try await get(proxy, "/orders/1")
            #expect(response.text == "old")
        }
        try await new.waitForRequests(3)
        let client = try await TestConnection.connect(port: admin)
        try await client.send("GET /api/v1/diffs/summary HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(Self.viewerToken)\r\n\r\n")
        let summary = try await client.response()
        #expect(summary.status == 503)
        #expect(summary.text.contains("the store cannot be reached yet"))
        await client.close()
        process.signal(SIGTERM)
        #expect(try await process.exitStatus() == 0, "a store that never opened does not hold up the stop")
        withExtendedLifetime(refusing) {}
        await old.stop()
        await new.stop()
    }
}
