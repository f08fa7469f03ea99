import AsyncHTTPClient
import CutoverAdmin
import CutoverCore
import Foundation
import Logging
import NIOCore

/// Tells `plan.notify`'s webhooks of every plan step event, in order, each a JSON POST bounded to 5 s; a receiver
/// that fails or is slow is logged and costs the operator's call nothing (delivery runs in the background).
final class PlanWebhooks: Sendable {
    private let continuation: AsyncStream<PlanEvent>.Continuation

    init(config: @escaping @Sendable () -> CutoverConfig, logger: Logger) {
        let (stream, continuation) = AsyncStream<PlanEvent>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        self.continuation = continuation
        Task {
            for await event in stream {
                for url in config().plan?.notify ?? [] { await Self.post(event, to: url, logger: logger) }
            }
        }
    }

    deinit { continuation.finish() }

    func send(_ event: PlanEvent) {
        continuation.yield(event)
    }

    private static func post(_ event: PlanEvent, to url: String, logger: Logger) async {
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            request.body = .bytes(ByteBuffer(bytes: try encoder.encode(event)))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            if !(200..<300).contains(Int(response.status.code)) {
                logger.warning("plan webhook answered \(response.status.code)", metadata: ["url": "\(url)", "step": "\(event.step)"])
            }
        } catch {
            logger.warning("plan webhook failed", metadata: ["url": "\(url)", "step": "\(event.step)", "error": "\(error)"])
        }
    }
}
