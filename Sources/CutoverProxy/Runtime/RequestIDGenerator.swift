import NIOCore

/// Makes request IDs: 32 lower-case hex digits from a per-loop xoshiro256**
/// generator seeded from the system's randomness. Written straight into the
/// outgoing buffer, so generating one costs no allocation and no system call.
struct RequestIDGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var system = SystemRandomNumberGenerator()
        state = (system.next(), system.next(), system.next(), system.next())
        if state == (0, 0, 0, 0) { state.0 = 1 }
    }

    private mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    @inline(__always)
    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Writes a new ID into `buffer`.
    mutating func write(into buffer: inout ByteBuffer) {
        let high = next(), low = next()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 32) { pointer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { hex in
                for index in 0..<16 {
                    pointer[index] = hex[Int((high >> (60 - UInt64(index) * 4)) & 0xF)]
                    pointer[16 + index] = hex[Int((low >> (60 - UInt64(index) * 4)) & 0xF)]
                }
            }
            return 32
        }
    }

    /// Writes `X-Request-Id: <new ID>\r\n` into `buffer` in one step.
    mutating func writeHeader(into buffer: inout ByteBuffer) {
        let high = next(), low = next()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 48) { pointer in
            let prefix: StaticString = "X-Request-Id: "
            pointer.copyMemory(from: UnsafeRawBufferPointer(start: prefix.utf8Start, count: 14))
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { hex in
                for index in 0..<16 {
                    pointer[14 + index] = hex[Int((high >> (60 - UInt64(index) * 4)) & 0xF)]
                    pointer[30 + index] = hex[Int((low >> (60 - UInt64(index) * 4)) & 0xF)]
                }
            }
            pointer[46] = 0x0D
            pointer[47] = 0x0A
            return 48
        }
    }

    /// A new ID as text.
    mutating func make() -> String {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return String(buffer: buffer)
    }
}
