import CutoverCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sends DNS messages to one server over TCP (RFC 7766: each message behind its two-byte length), one exchange at a
/// time, each bounded by `timeout`. TCP rather than UDP: an update and its signed answer are never truncated, and a
/// lost datagram cannot make an update look unanswered after it was applied.
struct DNSClient {
    let server: DNSServer
    let timeout: Duration

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends `request` and returns the answer's bytes.
    func exchange(_ request: [UInt8]) throws(Failure) -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        let socket = try connect(deadline: deadline)
        defer { close(socket) }
        var framed: [UInt8] = []
        framed.appendBigEndian(UInt16(request.count))
        framed += request
        try send(framed, on: socket, deadline: deadline)
        let length = try receive(2, on: socket, deadline: deadline)
        let size = Int(length[0]) << 8 | Int(length[1])
        guard size >= 12 else { throw Failure(description: "\(server) answered a message of \(size) bytes, shorter than a DNS header") }
        return try receive(size, on: socket, deadline: deadline)
    }

    private func connect(deadline: ContinuousClock.Instant) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(server.host, String(server.port), &hints, &list)
        guard status == 0, let first = list else {
            throw Failure(description: "cannot resolve \(server.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                lastError = String(cString: strerror(errno))
                close(fd)
                continue
            }
            do {
                try wait(fd, for: Int16(POLLOUT), deadline: deadline, doing: "connecting")
            } catch {
                close(fd)
                throw error
            }
            var code: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size)
            if code == 0 { return fd }
            lastError = String(cString: strerror(code))
            close(fd)
        }
        throw Failure(description: "cannot connect to \(server): \(lastError)")
    }

    private func send(_ bytes: [UInt8], on fd: Int32, deadline: ContinuousClock.Instant) throws(Failure) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 { sent += count; continue }
            guard count < 0, errno == EAGAIN || errno == EINTR else {
                throw Failure(description: "sending to \(server) failed: \(String(cString: strerror(errno)))")
            }
            try wait(fd, for: Int16(POLLOUT), deadline: deadline, doing: "sending")
        }
    }

    private func receive(_ count: Int, on fd: Int32, deadline: ContinuousClock.Instant) throws(Failure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var received = 0
        while received < count {
            let got = bytes[received...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got > 0 { received += got; continue }
            if got == 0 { throw Failure(description: "\(server) closed the connection before its answer was complete (\(received) of \(count) bytes)") }
            guard errno == EAGAIN || errno == EINTR else {
                throw Failure(description: "reading from \(server) failed: \(String(cString: strerror(errno)))")
            }
            try wait(fd, for: Int16(POLLIN), deadline: deadline, doing: "waiting for its answer")
        }
        return bytes
    }

    private func wait(_ fd: Int32, for events: Int16, deadline: ContinuousClock.Instant, doing: String) throws(Failure) {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw Failure(description: "\(server) did not answer within \(Quantities.format(timeout)) (\(doing))") }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let milliseconds = Int32(min(left.milliseconds.rounded(.up), 60_000))
            let ready = poll(&entry, 1, max(milliseconds, 1))
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw Failure(description: "waiting for \(server) failed: \(String(cString: strerror(errno)))") }
        }
    }
}
