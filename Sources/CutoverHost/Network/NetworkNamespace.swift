import CCutoverHost

#if canImport(Glibc)
import Glibc
#endif

/// Runs work inside a network namespace of this machine: on a new thread that joins the namespace (`setns`) and ends
/// with the work, so no other thread of the process ever changes namespace. Sockets opened there stay in that
/// namespace whichever thread uses them afterwards.
public enum NetworkNamespace {
    /// A namespace that could not be entered.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `body` inside namespace `name` (`ip netns`'s name, /run/netns/NAME), or in this process's own when nil,
    /// and returns what it returned. Blocks the calling thread until then.
    public static func perform<T>(_ name: String?, _ body: () throws -> T) throws -> T {
        guard let name else { return try body() }
        return try onOwnThread(entering: [name]) { switcher in
            try switcher.enter(name)
            return try body()
        }
    }

    /// Moves a thread between namespaces opened ahead: entering one is a single `setns` (microseconds), where
    /// starting a thread for it can wait for the scheduler's next tick on a busy machine.
    public final class Switcher {
        private var descriptors: [String: Int32] = [:]
        private let own: Int32

        init(names: [String]) throws {
            own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
            guard own >= 0 else { throw Failure(description: "this process's network namespace cannot be opened: \(String(cString: strerror(errno)))") }
            for name in Set(names) {
                let path = "/run/netns/\(name)"
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    let reason = String(cString: strerror(errno))
                    close()
                    throw Failure(description: "network namespace '\(name)' cannot be opened (\(path): \(reason))")
                }
                descriptors[name] = fd
            }
        }

        /// Moves the calling thread into namespace `name` (this process's own when nil). Only on the thread
        /// ``NetworkNamespace/onOwnThread(entering:_:)`` made.
        public func enter(_ name: String?) throws {
            let fd = name.map { descriptors[$0]! } ?? own
            guard cutover_enter_network_namespace(fd) == 0 else {
                throw Failure(description: "cannot enter network namespace '\(name ?? "of this process")': \(String(cString: strerror(errno)))")
            }
        }

        func close() {
            for fd in descriptors.values { Glibc.close(fd) }
            descriptors = [:]
            if own >= 0 { Glibc.close(own) }
        }
    }

    /// Runs `body` on a new thread of its own that may enter the namespaces `names` (opened before it starts) and
    /// ends with it; blocks the calling thread until then and returns what `body` returned.
    public static func onOwnThread<T>(entering names: [String], _ body: (Switcher) throws -> T) throws -> T {
        let switcher = try Switcher(names: names)
        defer { switcher.close() }
        return try withoutActuallyEscaping(body) { body in
            let box = ResultBox<T>()
            let job = Job { box.result = Result { try body(switcher) } }
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { raw in
                Unmanaged<Job>.fromOpaque(raw!).takeUnretainedValue().run()
                return nil
            }, Unmanaged.passUnretained(job).toOpaque())
            guard started == 0 else {
                throw Failure(description: "cannot start a thread for the network namespaces: \(String(cString: strerror(started)))")
            }
            pthread_join(thread, nil)
            // Joined: the thread is gone; the caller's closure is let go of here, inside the block.
            job.work = nil
            return try box.result!.get()
        }
    }

    /// The work of one namespace thread, run by it; the caller reads the result after joining it.
    private final class Job: @unchecked Sendable {
        var work: (() -> Void)?
        init(work: @escaping () -> Void) { self.work = work }
        func run() { work?() }
    }

    /// The work's result, written by the namespace's thread before it ends and read by the caller after joining it.
    private final class ResultBox<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }
}
