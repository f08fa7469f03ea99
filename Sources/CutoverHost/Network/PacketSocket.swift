import CCutoverHost
import CutoverCore
#if canImport(Glibc)
import Glibc
#endif

/// A raw packet socket (AF_PACKET) on one interface, opened in the network namespace the interface lives in: whole
/// Ethernet frames go out as written and come in as received. Sends the host side's ARP and Neighbour Discovery
/// frames in-process, without spawning a tool. Needs CAP_NET_RAW.
public final class PacketSocket {
    public let interface: String
    public let namespace: String?
    /// The interface's link-layer address.
    public let mac: MACAddress
    private let fd: Int32

    /// A socket or an interface that cannot be used, with the reason.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Opens a socket for frames of EtherType `protocol` on `interface` of namespace `namespace` (this process's own
    /// when nil).
    public init(interface: String, namespace: String?, protocol etherType: UInt16) throws {
        let place = namespace.map { " in network namespace '\($0)'" } ?? ""
        let opened: (fd: Int32, mac: [UInt8]) = try NetworkNamespace.perform(namespace) {
            var index: Int32 = 0
            var mac = [UInt8](repeating: 0, count: 6)
            guard cutover_interface_link(interface, &index, &mac) == 0 else {
                let reason = errno == ENODEV ? "there is no such interface" : String(cString: strerror(errno))
                throw Failure(description: "interface '\(interface)'\(place) cannot be used: \(reason)")
            }
            let fd = cutover_open_packet_socket(index, etherType)
            guard fd >= 0 else {
                let reason = errno == EPERM ? "a raw packet socket needs CAP_NET_RAW (run as root)" : String(cString: strerror(errno))
                throw Failure(description: "cannot open a packet socket on '\(interface)'\(place): \(reason)")
            }
            return (fd, mac)
        }
        self.interface = interface
        self.namespace = namespace
        self.fd = opened.fd
        self.mac = MACAddress(opened.mac)
    }

    deinit { close(fd) }

    /// Sends one whole frame.
    public func send(_ frame: [UInt8]) throws {
        let sent = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == frame.count else {
            throw Failure(description: "sending on '\(interface)' failed: \(sent < 0 ? String(cString: strerror(errno)) : "short write")")
        }
    }

    /// The next frame received within `timeout`, or nil when none came.
    public func receive(within timeout: Duration) throws -> [UInt8]? {
        // Rounded up: a wait under a millisecond is a millisecond, never a poll that returns at once (a busy loop).
        let (seconds, attoseconds) = timeout.components
        let milliseconds = timeout <= .zero ? 0 : Int32(min(Int64(Int32.max), seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
        var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollFD, 1, milliseconds)
        guard ready > 0 else {
            if ready < 0, errno != EINTR { throw Failure(description: "waiting on '\(interface)' failed: \(String(cString: strerror(errno)))") }
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw Failure(description: "receiving on '\(interface)' failed: \(String(cString: strerror(errno)))") }
        return Array(buffer[0..<count])
    }
}
