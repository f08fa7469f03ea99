import CutoverCore
import Foundation

extension RunHolder {
    /// A holder on this machine whose process has ended, as a runner killed with `kill -9` leaves its run's lease.
    public static func ofAnEndedProcess() throws -> RunHolder {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        var holder = RunHolder.current()
        holder.pid = child.processIdentifier
        holder.started = 1
        return holder
    }
}
