import CutoverCore
#if canImport(Glibc)
import Glibc
#endif

/// One GET of a service's health URL (`http://host[:port]/path`) over a plain TCP connection, bounded by a timeout:
/// what the runbook probes through the service address. Only `http://`: a health check behind the address is
/// plain HTTP on the segment.
public struct HTTPProbe: Sendable {
    public let url: ProbeURL
    var host: String { url.address.description }
    var port: UInt16 { url.port }
    var path: String { url.path }

    /// Parses `url` (``ProbeURL``); nil when it is not an `http://` URL with an IP address.
    public init?(url: String) {
        guard let parsed = ProbeURL(url) else { return nil }
        self.url = parsed
    }

    /// The status code of one GET, or nil when no answer came within `timeout`.
    public func get(timeout: Duration) -> Int? {
        let address = url.address
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        func wait(_ events: Int16) -> Bool {
            let left = deadline - clock.now
            guard left > .zero else { return false }
            var pollFD = pollfd(fd: fd, events: events, revents: 0)
            let milliseconds = Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            return poll(&pollFD, 1, milliseconds) == 1 && pollFD.revents & events != 0
        }
        var connected: Int32
        if address.isIPv6 {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { $0.copyBytes(from: address.bytes) }
            connected = withUnsafePointer(to: &socketAddress) { connect(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        } else {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &socketAddress.sin_addr) { $0.copyBytes(from: address.bytes) }
            connected = withUnsafePointer(to: &socketAddress) { connect(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 {
            guard errno == EINPROGRESS, wait(Int16(POLLOUT)) else { return nil }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else { return nil }
        }
        let hostHeader = address.isIPv6 ? "[\(host)]" : host
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(hostHeader):\(port)\r\nConnection: close\r\nUser-Agent: cutover-host\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 { sent += count; continue }
            guard count < 0, errno == EAGAIN, wait(Int16(POLLOUT)) else { return nil }
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while answer.count < 12 || !answer.contains(0x0A) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { answer += buffer[0..<count]; continue }
            guard count < 0, errno == EAGAIN, wait(Int16(POLLIN)) else { break }
        }
        // "HTTP/1.x NNN"
        guard answer.count >= 12, answer.starts(with: Array("HTTP/1.".utf8)) else { return nil }
        return Int(String(decoding: answer[9..<12], as: UTF8.self))
    }
}
