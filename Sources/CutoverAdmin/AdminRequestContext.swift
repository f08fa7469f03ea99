import CutoverCore
import Hummingbird

/// The request context of the admin API: Hummingbird's core context plus the
/// token the request was authenticated with.
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who made the request, once authenticated.
    public var token: AdminToken?
    /// The client's IP address (what failed authentications are counted by).
    public var clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.token = nil
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

extension AdminRequestContext {
    /// The token the request was authenticated with; a 401 when there is none (a handler never acts for nobody).
    func requireToken() throws -> AdminToken {
        guard let token else { throw AdminError(.unauthorized, "this call needs an Authorization: Bearer TOKEN header") }
        return token
    }
}

extension Request {
    /// A whole-number query parameter within `range`, `value` when absent; a 400 naming the parameter otherwise.
    func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        try AdminInput.integer(name, text: uri.queryParameters[Substring(name)], default: value, in: range)
    }
}
