import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// A client of a running gateway's admin API, with a bearer token.
struct AdminClient: Sendable {
    /// What went wrong talking to the admin API.
    enum Failure: Error, CustomStringConvertible {
        /// The listener could not be reached.
        case unreachable(url: String, reason: String)
        /// The API answered with an error status and reason.
        case refused(url: String, status: Int, reason: String)
        /// The answer was not what the API documents.
        case unreadable(url: String, reason: String)

        var description: String {
            switch self {
            case .unreachable(let url, let reason):
                return "cannot reach the admin API at \(url): \(reason); is `cutover serve` running there? (--admin URL)"
            case .refused(let url, let status, let reason):
                let hint: String
                switch status {
                case 401: hint = " (set CUTOVER_TOKEN to a token listed under admin.tokens)"
                case 403: hint = " (CUTOVER_TOKEN holds a token without the role this needs)"
                default: hint = ""
                }
                return "the admin API at \(url) answered \(status): \(reason)\(hint)"
            case .unreadable(let url, let reason):
                return "the admin API at \(url) gave an answer that cannot be read: \(reason)"
            }
        }
    }

    /// The error answer every admin API failure has.
    private struct ErrorBody: Decodable {
        var error: String
    }

    /// The listener's base URL, without a trailing slash.
    let base: String
    let token: String
    let client: HTTPClient

    /// Checks the base URL: `http://` or `https://`, a host, no query.
    static func validate(base: String) -> String? {
        guard let components = URLComponents(string: base), let scheme = components.scheme,
              ["http", "https"].contains(scheme.lowercased()), components.host?.isEmpty == false
        else {
            return "--admin '\(base)' is not an http:// or https:// URL (for example http://127.0.0.1:9090)"
        }
        guard components.query == nil, components.fragment == nil else {
            return "--admin '\(base)' must be the listener's address, without a query"
        }
        return nil
    }

    /// A client for one command: a refused connection fails at once (a command line
    /// is answered, not retried for half a minute), a silent host after 5 s.
    init(base: String, token: String, tls: TLSConfiguration? = nil) {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.token = token
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool.retryConnectionEstablishment = false
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Runs `body` with a client and shuts the client down after.
    static func with<T>(base: String, token: String, tls: TLSConfiguration? = nil, _ body: (AdminClient) async throws -> T) async throws -> T {
        let client = AdminClient(base: base, token: token, tls: tls)
        do {
            let result = try await body(client)
            try? await client.client.shutdown()
            return result
        } catch {
            try? await client.client.shutdown()
            throw error
        }
    }

    /// Calls `method path?query` and decodes the JSON answer; also returns its text.
    func call<T: Decodable>(_ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: Data? = nil,
                            as type: T.Type) async throws
        -> (value: T, text: String)
    {
        var components = URLComponents(string: base + path)!
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty { components.queryItems = items }
        // A pointer's '/' and '*' are allowed in a query, but '+' would read as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let url = components.string!
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(30))
            body = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw Failure.unreachable(url: base, reason: "\(error)")
        }
        let text = String(buffer: body)
        guard (200..<300).contains(response.status.code) else {
            let reason = (try? JSONDecoder().decode(ErrorBody.self, from: Data(text.utf8)))?.error ?? text
            throw Failure.refused(url: base, status: Int(response.status.code), reason: reason)
        }
        do {
            return (try JSONDecoder().decode(type, from: Data(text.utf8)), text)
        } catch {
            throw Failure.unreadable(url: base, reason: "\(error)")
        }
    }
}
