import CCutoverHost
import CutoverCore
#if canImport(Glibc)
import Glibc
#endif

/// The addresses an interface holds, read and changed in-process (getifaddrs, rtnetlink) inside the interface's
/// network namespace: a change takes a fraction of a millisecond, where spawning `ip` takes several.
public enum LinkAddresses {
    /// An address that could not be read or changed, with the reason.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The index of `interface` in the calling thread's namespace.
    public static func index(of interface: String) throws -> Int32 {
        var index: Int32 = 0
        var mac = [UInt8](repeating: 0, count: 6)
        guard cutover_interface_link(interface, &index, &mac) == 0 else {
            throw Failure(description: "interface '\(interface)' cannot be used: \(errno == ENODEV ? "there is no such interface" : String(cString: strerror(errno)))")
        }
        return index
    }

    /// Adds `address` to `interface` (`index` when looked up ahead; IPv6 without duplicate address detection, so it is usable at once); an
    /// address the interface holds already is left as it is (the step is idempotent). Runs in the calling thread's
    /// namespace.
    public static func add(_ address: InterfaceAddress, to interface: String, index: Int32? = nil) throws {
        try change(add: true, address, interface, index: index)
    }

    /// Removes `address` from `interface`; an address already gone is not an error. Runs in the calling thread's
    /// namespace.
    public static func remove(_ address: InterfaceAddress, from interface: String, index: Int32? = nil) throws {
        try change(add: false, address, interface, index: index)
    }

    /// `index`: the interface's, when the caller looked it up ahead (a lookup dumps every link of the namespace).
    private static func change(add: Bool, _ address: InterfaceAddress, _ interface: String, index known: Int32?) throws {
        let index = try known ?? index(of: interface)
        let family = address.address.isIPv6 ? AF_INET6 : AF_INET
        let result = address.address.bytes.withUnsafeBufferPointer {
            cutover_change_address(add ? 1 : 0, family, $0.baseAddress, Int32(address.prefixLength), index, 1)
        }
        guard result != 0 else { return }
        if add, errno == EEXIST { return }
        if !add, errno == EADDRNOTAVAIL { return }
        throw Failure(description: "\(add ? "adding" : "removing") \(address) \(add ? "to" : "from") '\(interface)' failed: \(String(cString: strerror(errno)))")
    }

    /// The addresses `interface` holds in the calling thread's namespace (every interface's when nil), with the
    /// interface's name.
    public static func list(interface: String? = nil) throws -> [(interface: String, address: IPAddress)] {
        try subnets(interface: interface).map { ($0.interface, $0.subnet.address) }
    }

    /// The addresses with their prefix lengths, as the interfaces of the calling thread's namespace hold them.
    public static func subnets(interface: String? = nil) throws -> [(interface: String, subnet: InterfaceAddress)] {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0 else { throw Failure(description: "listing addresses failed: \(String(cString: strerror(errno)))") }
        defer { freeifaddrs(first) }
        var found: [(interface: String, subnet: InterfaceAddress)] = []
        var entry = first
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            let name = String(cString: current.pointee.ifa_name)
            guard interface == nil || name == interface, let raw = current.pointee.ifa_addr,
                  let address = ipAddress(raw) else { continue }
            let mask = current.pointee.ifa_netmask.flatMap(ipAddress)?.bytes ?? []
            let length = mask.reduce(0) { $0 + $1.nonzeroBitCount }
            found.append((name, InterfaceAddress(address: address, prefixLength: length)))
        }
        return found
    }

    /// The address in a socket address of family AF_INET or AF_INET6.
    private static func ipAddress(_ raw: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(raw.pointee.sa_family) {
        case AF_INET:
            let bytes = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) } }
            return .v4(bytes[0], bytes[1], bytes[2], bytes[3])
        case AF_INET6:
            return .v6(raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) } })
        default:
            return nil
        }
    }

    /// Whether `interface` holds `address`, in the calling thread's namespace.
    public static func holds(_ address: IPAddress, interface: String) throws -> Bool {
        try list(interface: interface).contains { $0.address == address }
    }
}
