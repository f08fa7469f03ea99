import NIOConcurrencyHelpers

/// A flag that can be set once, from any thread.
final class LockedFlag: Sendable {
    private let value = NIOLockedValueBox(false)

    /// Sets the flag; returns true only for the call that set it.
    func setOnce() -> Bool {
        value.withLockedValue { value in
            if value { return false }
            value = true
            return true
        }
    }
}
