@testable import CutoverCore
@testable import CutoverProxy
import MetricsTestKit
import NIOCore
import NIOEmbedded
import Testing

/// An exchange that only records what the pool tells it.
final class RecordingExchange: UpstreamExchange {
    var upstreamTicket: UInt64 = 1
    var acquired: [UpstreamConnection] = []
    var failures: [UpstreamFailure] = []

    func upstreamAcquired(_ connection: UpstreamConnection) { acquired.append(connection) }
    func upstreamAcquireFailed(_ failure: UpstreamFailure) { failures.append(failure) }
    var leftLine = 0
    func upstreamLeftLine() { leftLine += 1 }
    func upstream(_ connection: UpstreamConnection, didReceive head: ResponseHead) {}
    func upstream(_ connection: UpstreamConnection, didReceiveBody body: ByteBuffer) {}
    func upstreamDidFinishResponse(_ connection: UpstreamConnection) {}
    func upstreamDidCompleteRead(_ connection: UpstreamConnection) {}
    func upstream(_ connection: UpstreamConnection, didFail failure: UpstreamFailure) {}
    func upstreamWritabilityDidChange(_ connection: UpstreamConnection) {}
}

/// A pool of one backend whose connections are `EmbeddedChannel`s that become active at once.
final class EmbeddedPool {
    let loop = EmbeddedEventLoop()
    let pool: UpstreamPool
    var channels: [EmbeddedChannel] = []

    init(poolSize: Int, queues: Bool) throws {
        let config = try ConfigLoader.load(yaml: """
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            backends: { old: { url: "http://127.0.0.1:9001", pool_size: \(poolSize) } }
            """).get()
        let target = try BackendTarget(config.backends[0])
        pool = UpstreamPool(target: target, eventLoop: loop, metrics: ProxyMetrics(factory: TestMetrics()).backend("old"), queuesWaiters: queues)
        pool.connector = { [unowned self] connection in
            let channel = EmbeddedChannel(handler: connection, loop: loop)
            channels.append(channel)
            _ = channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9001))
        }
    }
}

@Suite("Upstream pool", .timeLimit(.minutes(1)))
struct UpstreamPoolTests {
    @Test func aFullPoolThatDoesNotQueueRefusesAtOnce() throws {
        let embedded = try EmbeddedPool(poolSize: 2, queues: false)
        let first = RecordingExchange(), second = RecordingExchange(), third = RecordingExchange()
        guard case .connecting = embedded.pool.acquire(for: first), case .connecting = embedded.pool.acquire(for: second) else {
            Issue.record("the first two exchanges get connections made for them")
            return
        }
        #expect(first.acquired.count == 1 && second.acquired.count == 1)
        guard case .refused = embedded.pool.acquire(for: third) else {
            Issue.record("with every connection busy, a pool that does not queue refuses")
            return
        }
        #expect(embedded.pool.lineLength == 0)
        #expect(embedded.pool.openCount == 2)
    }

    @Test func aFullPoolThatQueuesHandsAReleasedConnectionToTheOldestLiveWaiter() throws {
        let embedded = try EmbeddedPool(poolSize: 1, queues: true)
        let holder = RecordingExchange()
        _ = embedded.pool.acquire(for: holder)
        let connection = try #require(holder.acquired.first)
        let gone = RecordingExchange(), waiting = RecordingExchange()
        guard case .queued = embedded.pool.acquire(for: gone), case .queued = embedded.pool.acquire(for: waiting) else {
            Issue.record("with its one connection busy, the pool queues")
            return
        }
        gone.upstreamTicket += 1
        embedded.pool.withdraw()
        connection.release(reusable: true)
        #expect(gone.acquired.isEmpty, "a withdrawn waiter is skipped")
        #expect(waiting.acquired.count == 1)
        #expect(embedded.pool.lineLength == 0)
    }

    @Test func withdrawnWaitersDoNotPileUpInTheLine() throws {
        let embedded = try EmbeddedPool(poolSize: 1, queues: true)
        let holder = RecordingExchange()
        _ = embedded.pool.acquire(for: holder)
        let connection = try #require(holder.acquired.first)
        // 10,000 waiters that each give up (their deadline passed) while the one connection stays busy, as under a hanging backend.
        var longest = 0
        for _ in 0..<10_000 {
            let exchange = RecordingExchange()
            _ = embedded.pool.acquire(for: exchange)
            exchange.upstreamTicket += 1
            embedded.pool.withdraw()
            longest = max(longest, embedded.pool.lineLength)
        }
        #expect(longest <= 128, "the line is compacted once half of it is stale: longest \(longest)")
        let last = RecordingExchange()
        _ = embedded.pool.acquire(for: last)
        connection.release(reusable: true)
        #expect(last.acquired.count == 1, "the live waiter behind the withdrawn ones gets the connection")
    }

    @Test func closedConnectionsGiveTheirPlaceToAWaiter() throws {
        let embedded = try EmbeddedPool(poolSize: 1, queues: true)
        let holder = RecordingExchange(), waiting = RecordingExchange()
        _ = embedded.pool.acquire(for: holder)
        _ = embedded.pool.acquire(for: waiting)
        #expect(embedded.pool.openCount == 1)
        _ = embedded.channels[0].close()
        #expect(embedded.channels.count == 2, "a new connection is made for the waiter")
        #expect(waiting.acquired.count == 1)
        #expect(embedded.pool.openCount == 1)
    }

    @Test func retiringFailsTheWaitersAndClosesIdleConnections() throws {
        let embedded = try EmbeddedPool(poolSize: 1, queues: true)
        let holder = RecordingExchange(), waiting = RecordingExchange()
        _ = embedded.pool.acquire(for: holder)
        _ = embedded.pool.acquire(for: waiting)
        embedded.pool.retire()
        #expect(waiting.failures == [.poolExhausted])
        try #require(holder.acquired.first).release(reusable: true)
        #expect(embedded.pool.openCount == 0, "a connection released to a retired pool closes")
    }

    @Test func aWaiterTakenOutOfTheLineForANewConnectionIsToldSo() throws {
        let embedded = try EmbeddedPool(poolSize: 1, queues: true)
        let holder = RecordingExchange(), waiting = RecordingExchange()
        _ = embedded.pool.acquire(for: holder)
        guard case .queued = embedded.pool.acquire(for: waiting) else {
            Issue.record("the second exchange waits in line")
            return
        }
        _ = embedded.channels[0].close()
        #expect(waiting.leftLine == 1, "a connection is made for it: it is no longer in the line, and withdraws nothing")
        #expect(embedded.pool.lineLength == 0)
    }
}
