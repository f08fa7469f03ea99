import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A client for large transfers: sends a head and a body of repeated bytes in
/// pieces (each awaited, so the socket's backpressure paces it), and counts
/// what comes back without keeping it.
public final class StreamingClient: Sendable {
    private let channel: any Channel
    private let counter: ByteCounter

    public static func connect(port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> StreamingClient {
        let counter = ByteCounter()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(counter) }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return StreamingClient(channel: channel, counter: counter)
    }

    private init(channel: any Channel, counter: ByteCounter) {
        self.channel = channel
        self.counter = counter
    }

    /// Sends text as is.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Sends `count` bytes of `byte` in pieces of `piece` bytes.
    public func sendBody(count: Int, byte: UInt8, piece: Int = 64 * 1024) async throws {
        var remaining = count
        let block = ByteBuffer(repeating: byte, count: piece)
        while remaining > 0 {
            let size = min(piece, remaining)
            try await channel.writeAndFlush(block.getSlice(at: block.readerIndex, length: size)!)
            remaining -= size
        }
    }

    /// Waits until `count` bytes have arrived in all (or the connection closed); returns the count and
    /// how many of the bytes after the first blank line were not `byte`.
    public func received(atLeast count: Int, byte: UInt8) async throws -> (bytes: Int, unexpected: Int) {
        try await waitUntil(timeout: .seconds(120), "\(count) bytes from the gateway") { self.counter.total >= count || self.counter.closed }
        return (counter.total, counter.unexpected(byte))
    }

    /// Waits until `count` bytes equal to `byte` have arrived after the head; returns the last bytes received, as text.
    public func received(count: Int, of byte: UInt8) async throws -> String {
        try await waitUntil(timeout: .seconds(120), "\(count) bytes of \(byte)") { self.counter.count(of: byte) >= count || self.counter.closed }
        try await waitUntil(timeout: .seconds(60), "the end of the message") { self.counter.endText.hasSuffix("\r\n\r\n") || self.counter.closed }
        return counter.endText
    }

    /// How many bytes equal to `byte` arrived after the head.
    public func count(of byte: UInt8) -> Int { counter.count(of: byte) }

    /// The first bytes received (up to 4 KiB), as text.
    public var start: String { counter.startText }

    public func close() async {
        try? await channel.close()
    }
}

private final class ByteCounter: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private struct State {
        var total = 0
        var start: [UInt8] = []
        var headEnded = false
        var histogram = [Int](repeating: 0, count: 256)
        var closed = false
        var end: [UInt8] = []
    }
    private let state = NIOLockedValueBox(State())

    var total: Int { state.withLockedValue { $0.total } }
    var closed: Bool { state.withLockedValue { $0.closed } }
    var startText: String { state.withLockedValue { String(decoding: $0.start, as: UTF8.self) } }
    var endText: String { state.withLockedValue { String(decoding: $0.end, as: UTF8.self) } }
    func count(of byte: UInt8) -> Int { state.withLockedValue { $0.histogram[Int(byte)] } }
    func unexpected(_ byte: UInt8) -> Int {
        state.withLockedValue { state in state.histogram.enumerated().filter { $0.offset != Int(byte) }.map(\.element).reduce(0, +) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        state.withLockedValue { state in
            state.total += buffer.readableBytes
            buffer.withUnsafeReadableBytes { bytes in
                var index = 0
                if !state.headEnded {
                    while index < bytes.count, !state.headEnded {
                        state.start.append(bytes[index])
                        if state.start.count >= 4, state.start.suffix(4).elementsEqual([13, 10, 13, 10]) { state.headEnded = true }
                        index += 1
                    }
                }
                while index < bytes.count {
                    state.histogram[Int(bytes[index])] += 1
                    index += 1
                }
                state.end = Array((state.end + bytes.suffix(16)).suffix(16))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.closed = true }
        context.fireChannelInactive()
    }
}
