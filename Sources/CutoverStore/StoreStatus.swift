import Foundation
import PostgresNIO

/// Whether the store is reachable, as the gateway last found it: what `/healthz` reports and what the admin API
/// answers with (at once) while the store is down.
public struct StoreStatus: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        /// Not open yet (a PostgreSQL store still connecting, or its schema not yet prepared).
        case opening
        /// Open and answering.
        case up
        /// Open once, and not answering now.
        case down
    }

    public var state: State
    /// When the state began, ISO 8601.
    public var since: String
    /// Why it is not up, in a few words (never a driver's internals).
    public var reason: String?

    public init(state: State, since: Date, reason: String? = nil) {
        self.state = state
        self.since = ISO8601DateFormatter().string(from: since)
        self.reason = reason
    }

    /// A sentence for an admin API refusal while the store is not up.
    public var explanation: String {
        switch state {
        case .opening: return "the store cannot be reached yet" + (reason.map { " (\($0))" } ?? "") + "; the gateway keeps trying"
        case .down: return "the store has not answered since \(since)" + (reason.map { " (\($0))" } ?? "") + "; the gateway keeps trying"
        case .up: return "the store is up"
        }
    }

    /// Why an operation on the store failed, in a few words for operators: the kind of failure, never a driver's dump.
    public static func reason(_ error: any Error) -> String {
        switch error {
        case let error as StoreError: return error.description
        case let error as PSQLError:
            switch error.code {
            case .connectionError: return "cannot connect"
            case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown: return "the connection closed"
            case .server: return "the server refused: \(error.serverInfo?[.message] ?? "an error")"
            default: return "PostgreSQL: \(error.code)"
            }
        default: return "\(type(of: error))"
        }
    }
}
