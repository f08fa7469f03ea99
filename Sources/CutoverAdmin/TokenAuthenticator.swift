import Crypto
import CutoverCore
import HTTPTypes
import Hummingbird
import Logging

/// Guards `/api/v1/`: every call needs a bearer token from the configuration, compared by SHA-256 in constant
/// time (401 without one), whose role allows the call (403); an address that keeps failing is refused for a while
/// (429, ``AuthFailureLimiter``). Every error under `/api/v1/`, unknown paths included, is answered as
/// `{"error": …, "status": …}` without internals (an unexpected error is logged, and answered 500 with a reference
/// to the log).
public struct TokenAuthenticator: RouterMiddleware {
    public typealias Context = AdminRequestContext

    /// The path the guard covers.
    public static let prefix = "/api/v1"

    /// The tokens in force (they change with a reload).
    let tokens: @Sendable () -> [AdminToken]
    let limiter: AuthFailureLimiter
    /// Told of each refused authentication, with its reason (`missing`, `malformed`, `unknown`, `rate_limited`).
    let onFailure: @Sendable (String) -> Void

    public init(tokens: @escaping @Sendable () -> [AdminToken], limiter: AuthFailureLimiter = AuthFailureLimiter(),
                onFailure: @escaping @Sendable (String) -> Void = { _ in }) {
        self.tokens = tokens
        self.limiter = limiter
        self.onFailure = onFailure
    }

    /// Whether a path is under `/api/v1`, as the router reads it: the route it matched (whatever spelling reached it:
    /// `//api/v1/…`, `/api//v1/…`), else the path's non-empty segments.
    static func isGuarded(path: String, matched: String?) -> Bool {
        let segments = (matched ?? path).split(separator: "/", omittingEmptySubsequences: true)
        return segments.count >= 2 && segments[0] == "api" && segments[1] == "v1"
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard Self.isGuarded(path: path, matched: context.endpointPath) else { return try await next(request, context) }
        do {
            var context = context
            context.token = try authenticate(request, address: context.clientAddress)
            return try await next(request, context)
        } catch let error as AdminError {
            throw error
        } catch let error as GateRefusal {
            throw error
        } catch let error as HTTPError {
            // Hummingbird's own refusals (no such path, a body over its bound…) in the API's shape.
            throw AdminError(error.status, error.body ?? Self.describe(error.status))
        } catch {
            context.logger.error("admin API call failed", metadata: ["path": "\(path)", "error": "\(error)"])
            throw AdminError(.internalServerError, "the call failed inside the gateway; its log has the details")
        }
    }

    /// The token a request authenticates with, or the refusal.
    func authenticate(_ request: Request, address: String) throws -> AdminToken {
        if let wait = limiter.retryAfter(address) {
            onFailure("rate_limited")
            var error = AdminError(.tooManyRequests, "too many failed authentications from \(address); retry in \(wait) s")
            error.headers[.retryAfter] = String(wait)
            throw error
        }
        guard let header = request.headers[.authorization] else {
            throw refusal("missing", address, "this call needs an Authorization: Bearer TOKEN header")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw refusal("malformed", address, "the Authorization header must be 'Bearer TOKEN'")
        }
        guard let token = Self.match(String(parts[1]), in: tokens()) else {
            throw refusal("unknown", address, "the token is not known")
        }
        if request.method != .get, request.method != .head, token.role != .operator {
            throw AdminError(.forbidden, "token '\(token.name)' has role \(token.role.rawValue); this call needs role operator")
        }
        return token
    }

    private func refusal(_ reason: String, _ address: String, _ message: String) -> AdminError {
        limiter.failed(address)
        onFailure(reason)
        var error = AdminError(.unauthorized, message)
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }

    private static func describe(_ status: HTTPResponse.Status) -> String {
        status == .notFound ? "no such API path" : status.reasonPhrase.lowercased()
    }

    /// The configured token whose digest matches `secret`, compared in constant time: every configured digest is
    /// compared whole, whether or not an earlier one matched.
    public static func match(_ secret: String, in tokens: [AdminToken]) -> AdminToken? {
        let digest = Array(SHA256.hash(data: Array(secret.utf8)))
        var found: AdminToken?
        for token in tokens {
            guard let expected = bytes(hex: token.sha256) else { continue }
            var difference: UInt8 = 0
            for (a, b) in zip(digest, expected) { difference |= a ^ b }
            if difference == 0, found == nil { found = token }
        }
        return found
    }

    /// The lower-case hex SHA-256 of a token, as the configuration stores it.
    public static func digest(_ secret: String) -> String {
        SHA256.hash(data: Array(secret.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var result: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: utf8[index..<(index + 2)], as: UTF8.self), radix: 16) else { return nil }
            result.append(byte)
        }
        return result
    }
}
