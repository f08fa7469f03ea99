import Crypto
import CutoverCore
import HTTPTypes
import Hummingbird

/// Checks the bearer token of every `/api/v1/` request against the configured
/// tokens (compared by SHA-256, in constant time): 401 without a valid token,
/// 403 when the token's role may not do what the request asks.
public struct TokenAuthenticator: RouterMiddleware {
    public typealias Context = AdminRequestContext

    /// The tokens in force (they change with a reload).
    let tokens: @Sendable () -> [AdminToken]

    public init(tokens: @escaping @Sendable () -> [AdminToken]) {
        self.tokens = tokens
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Self.unauthorized("this call needs an Authorization: Bearer TOKEN header")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw Self.unauthorized("the Authorization header must be 'Bearer TOKEN'")
        }
        guard let token = Self.match(String(parts[1]), in: tokens()) else {
            throw Self.unauthorized("the token is not known")
        }
        if request.method != .get, request.method != .head, token.role != .operator {
            throw AdminError(.forbidden, "token '\(token.name)' has role \(token.role.rawValue); this call needs role operator")
        }
        var context = context
        context.token = token
        return try await next(request, context)
    }

    /// The configured token whose digest matches `secret`, compared in constant time.
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

    private static func unauthorized(_ reason: String) -> AdminError {
        var error = AdminError(.unauthorized, reason)
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }
}
