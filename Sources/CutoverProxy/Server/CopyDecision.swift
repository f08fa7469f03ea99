import CutoverCore
import NIOCore

/// Whether an admitted request is copied, and where: a route in phase `shadow` copies to new (and to the noise
/// baseline, when one is configured and the plan allows it), a gray read comparison copies to the side that does not
/// answer, at the route's compare sample. The route's shadow settings may skip the copy (a write when `writes: skip`,
/// a request outside the sample, an announced body over `max_body`), and the skip is counted under its reason.
/// Decided once the request has passed every check of the main path; the handler starts the copies.
enum CopyDecision: Equatable {
    /// Where the copies of one request go.
    struct Copies: Equatable {
        var route: Int
        /// The backend the copy goes to.
        var mirror: Int
        /// The second old instance measuring noise, if any.
        var noise: Int?
        var settings: ShadowSettings
        var timeout: TimeAmount
        /// The side answering the client (new, when a gray read comparison sends an ID new serves: the copy goes to old).
        var primarySide: RoutingTarget.Side
    }

    /// The plan sends no copies.
    case none
    /// The route's settings skip this request's copies, for `reason`.
    case skipped(route: Int, reason: String)
    case copy(Copies)

    /// Decides for `plan`. `requestID` is asked for only when the plan copies (the sample is chosen by it).
    static func decide(_ plan: RoutingPlan, runtime: RuntimeConfig, method: RequestMethod, framing: RequestHead.Framing,
                       requestID: () -> String) -> CopyDecision {
        let copies: Copies
        switch plan {
        case .shadow(let primary, let copy, let noise):
            guard let route = primary.route else { return .none }
            let (settings, timeout) = runtime.shadow[route]
            copies = Copies(route: route, mirror: copy, noise: noise, settings: settings, timeout: timeout, primarySide: .old)
        case .readCompare(let primary, let other, let sample):
            guard let route = primary.route else { return .none }
            var (settings, timeout) = runtime.shadow[route]
            // A read comparison samples at the gray route's rate and sends both at once.
            settings.sample = sample
            settings.order = .parallel
            copies = Copies(route: route, mirror: other, noise: nil, settings: settings, timeout: timeout, primarySide: primary.side)
        case .forward, .aggregate, .awaitID, .reject:
            return .none
        }
        var length: Int?
        if case .contentLength(let value) = framing { length = value }
        if let reason = copies.settings.skipReason(method: method, requestID: requestID(), bodyLength: length) {
            return .skipped(route: copies.route, reason: reason)
        }
        return .copy(copies)
    }
}
