import CutoverCore
import Foundation
import NIOCore

/// Every value a caller of the admin API controls, read and checked in one place before anything is done with it:
/// query parameters, path parameters and JSON bodies. Each reader returns a value in range or throws an
/// ``AdminError`` (a 400 naming what is wrong); none traps, whatever the input (`Benchmarks/fuzz.sh` holds it to that).
public enum AdminInput {
    /// The latest `since` accepted as seconds since 1970: the end of year 9999.
    public static let latestSince: Double = 253_402_300_799

    /// A `since` parameter: a duration back from now (`90m`, `24h`), an ISO 8601 time, or seconds since 1970
    /// (a finite number from 0 to the end of year 9999: anything else is a 400, never arithmetic on it).
    public static func since(_ text: String, now: Date = Date()) throws -> Date {
        if let duration = Quantities.duration(text) {
            return now.addingTimeInterval(-Double(duration.components.seconds))
        }
        if let date = try? Date(text, strategy: .iso8601) { return date }
        if let seconds = Double(text) {
            guard seconds.isFinite, (0...latestSince).contains(seconds) else {
                throw AdminError(.badRequest, "since '\(text)' is out of range: seconds since 1970 must be a number from 0 to \(Int(latestSince))")
            }
            return Date(timeIntervalSince1970: seconds)
        }
        throw AdminError(.badRequest, "since '\(text)' is not a duration (24h), an ISO 8601 time or seconds since 1970")
    }

    /// The minute since 1970 a time falls in, clamped to what the store counts (a time that is not finite counts from 1970).
    public static func minute(_ date: Date) -> Int64 {
        let minutes = (date.timeIntervalSince1970 / 60).rounded(.down)
        guard minutes.isFinite else { return 0 }
        return Int64(min(max(minutes, 0), latestSince / 60))
    }

    /// A whole-number parameter within `range`, `value` when absent.
    public static func integer(_ name: String, text: Substring?, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw AdminError(.badRequest, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    /// A positive 64-bit identifier (a run ID, an audit sequence number).
    public static func positive(_ name: String, text: Substring) throws -> Int64 {
        guard let value = Int64(text), value > 0 else { throw AdminError(.badRequest, "\(name) must be a positive whole number, not '\(text)'") }
        return value
    }

    /// The largest request body the API reads.
    public static let maxBodyBytes = 64 * 1024

    /// A request body as JSON, or a 400 naming what is wrong with it (never the decoder's own dump).
    public static func body<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        guard buffer.readableBytes <= maxBodyBytes else {
            throw AdminError(.contentTooLarge, "the body is larger than the \(maxBodyBytes / 1024) KiB the API reads")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch DecodingError.keyNotFound(let key, _) {
            throw AdminError(.badRequest, "the body has no '\(key.stringValue)'")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw AdminError(.badRequest, "'\(path)' has the wrong type: \(context.debugDescription)")
        } catch DecodingError.dataCorrupted(let context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw AdminError(.badRequest, path.isEmpty ? "the body is not JSON" : "'\(path)' is invalid: \(context.debugDescription)")
        } catch {
            throw AdminError(.badRequest, "the body is not valid JSON")
        }
    }

    /// The body of `PUT /api/v1/routes/{name}/phase`, checked: the phase and the bound of a wait.
    public struct PhaseChangeRequest: Decodable, Sendable {
        public var phase: String
        public var reason: String?
        public var force: Bool?
        public var abandonNewIDs: Bool?
        public var wait: Bool?
        public var waitTimeout: String?

        enum CodingKeys: String, CodingKey {
            case phase, reason, force, wait
            case abandonNewIDs = "abandon_new_ids"
            case waitTimeout = "wait_timeout"
        }
    }

    /// The most a `wait: true` call waits.
    public static let maxWait: Duration = .seconds(60)

    /// A phase change read and checked: the phase, and how long a wait may last.
    public static func phaseChange(from buffer: ByteBuffer) throws -> (request: PhaseChangeRequest, phase: Phase, timeout: Duration) {
        let body = try self.body(PhaseChangeRequest.self, from: buffer)
        guard let phase = Phase(rawValue: body.phase) else {
            throw AdminError(.badRequest, "phase '\(body.phase)' is not one of \(Phase.allCases.map(\.rawValue).joined(separator: " | "))")
        }
        var timeout: Duration = .seconds(5)
        if let text = body.waitTimeout {
            guard let value = Quantities.duration(text), value > .zero, value <= maxWait else {
                throw AdminError(.badRequest, "wait_timeout '\(text)' is not a duration from 1ms to 60s")
            }
            timeout = value
        }
        return (body, phase, timeout)
    }
}
