import CutoverCore
import NIOCore

/// Bounds how slowly a client may send a request body, after Apache's mod_reqtimeout and nginx's
/// `client_body_timeout`: a body starts with a grace of `body_timeout`; it is cut (408) when nothing arrived for a
/// whole `body_timeout`, or when its average rate has fallen below `body_min_rate` once the grace is used up
/// (each byte earns 1/`body_min_rate` seconds). A client dribbling a byte a second is cut after about one grace,
/// whatever the body's length. Checked by the loop's sweeper, so no clock is read per body read.
final class BodyPace: DeadlineTracked {
    var deadline = NIODeadline.distantFuture
    var sweepIndex = -1
    /// Told when a deadline passes; the exchange it serves decides with ``check(bytes:now:)``.
    private unowned let owner: ClientConnectionHandler
    private var start = NIODeadline.uptimeNanoseconds(0)
    private var grace = TimeAmount.zero
    private var minRate = 0
    private var bytesSeen = 0
    private var lastProgress = NIODeadline.uptimeNanoseconds(0)
    /// When the pace was last looked at.
    private var lastCheck = NIODeadline.uptimeNanoseconds(0)

    init(owner: ClientConnectionHandler) {
        self.owner = owner
    }

    /// Starts timing a body whose head arrived at `now`.
    func begin(now: NIODeadline, limits: Limits) {
        start = now
        lastProgress = now
        lastCheck = now
        grace = .nanoseconds(limits.bodyTimeout.nanoseconds)
        minRate = limits.bodyMinRate
        bytesSeen = 0
        deadline = now + grace
    }

    /// With `bytes` of the body in by `now`: when to look again, or nil when the body is too slow.
    func check(bytes: Int, now: NIODeadline) -> NIODeadline? {
        lastCheck = now
        if bytes != bytesSeen {
            bytesSeen = bytes
            lastProgress = now
        } else if now >= lastProgress + grace {
            return nil
        }
        var next = lastProgress + grace
        if minRate > 0 {
            let earnedSeconds = Double(bytes) / Double(minRate)
            let earned = start + grace + .nanoseconds(Int64(min(earnedSeconds, 1e9) * 1e9))
            if earned <= now { return nil }
            next = min(next, earned)
        }
        return next
    }

    /// The gateway itself was not reading the body since the last look (its backend was not taking it, or a
    /// connection was awaited with the buffer full): that time is not the client's, so the pace starts over from now.
    func excuse(bytes: Int, now: NIODeadline) -> NIODeadline {
        start = start + (now - lastCheck)
        lastCheck = now
        lastProgress = now
        bytesSeen = bytes
        return now + grace
    }

    func deadlinePassed() {
        owner.bodyPaceDeadlinePassed()
    }
}
