import CutoverCore
import Hummingbird

/// The request context of the admin API: Hummingbird's core context plus the
/// token the request was authenticated with.
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who made the request, once authenticated.
    public var token: AdminToken?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.token = nil
    }
}
