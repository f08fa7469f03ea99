import CutoverCore
import NIOCore

/// One request of an ID-less list route in phase `gray`: the page is asked of
/// old and new at once (each with its own deadline, from the side's position in
/// the client's cursor), and the two pages are merged into one answer. A side
/// that ran out on an earlier page is not asked again. Confined to the event loop.
final class AggregateRun: SideExchangeOwner {
    /// What the client gets.
    struct Answer {
        var status: Int
        var body: String
        var headers: [(String, String)]
        /// The reason, for a failure.
        var error: String?
    }

    private let settings: AggregateSettings
    private let cursor: ListMerge.Cursor
    private let limit: Int
    private var exchanges: [SideExchange] = []
    private var outcomes: [SideExchange.Role: SideOutcome] = [:]
    private var asked: Set<SideExchange.Role> = []
    /// Sides whose pool refused them: every connection busy and the backend's line (`max_queue`) full.
    private var busy: Set<SideExchange.Role> = []
    private var onFinish: ((Answer) -> Void)?

    init(settings: AggregateSettings, cursor: ListMerge.Cursor, limit: Int, onFinish: @escaping (Answer) -> Void) {
        self.settings = settings
        self.cursor = cursor
        self.limit = limit
        self.onFinish = onFinish
    }

    /// The target one side is asked with: the client's path and query, with the page size and that side's own cursor.
    static func target(path: Substring, query: Substring, side: ListMerge.SideCursor, limit: Int, settings: AggregateSettings) -> String {
        var replacements = [(settings.limitParam, String(limit))]
        if let after = side.after { replacements.append((settings.cursorParam, after.parameter)) }
        return String(path) + "?" + QueryString.rewriting(query, removing: [settings.limitParam, settings.cursorParam], appending: replacements)
    }

    /// Asks the sides that have not run out; `exchange` makes the request to one of them.
    func start(now: NIODeadline, exchange: (SideExchange.Role, ListMerge.SideCursor) -> SideExchange?) {
        for (role, side) in [(SideExchange.Role.old, cursor.old), (.new, cursor.new)] where !side.done {
            guard let made = exchange(role, side) else { continue }
            asked.insert(role)
            exchanges.append(made)
        }
        if exchanges.isEmpty { return complete() }
        for made in exchanges {
            // The sides go through the main pools, which queue up to the backend's max_queue; a side refused beyond it
            // has no page (the other side's page is served with on_partial: degrade; without one the list is a 503 that
            // says when to try again, as for any request shed at a full line).
            guard made.start(now: now) == nil else {
                busy.insert(made.role)
                sideExchangeFinished(made, .failed("every connection to the backend is busy and its max_queue of waiting requests is full"))
                continue
            }
            made.endOfRequest()
        }
    }

    /// The client went away: the sides' requests are dropped.
    func abandon() {
        onFinish = nil
        for exchange in exchanges { exchange.abandon() }
        exchanges = []
    }

    func sideExchangeFailed(_ exchange: SideExchange, kind: String) {}

    func sideExchangeFinished(_ exchange: SideExchange, _ outcome: SideOutcome) {
        outcomes[exchange.role] = outcome
        if outcomes.count == asked.count { complete() }
    }

    private func complete() {
        guard let onFinish else { return }
        self.onFinish = nil
        exchanges = []
        onFinish(answer())
    }

    /// A side's page, or why it has none.
    private func page(_ role: SideExchange.Role) -> Result<ListMerge.Page, ListMerge.PageError>? {
        guard asked.contains(role) else { return nil }
        switch outcomes[role] {
        case .answered(let captured):
            let response = PairEvaluation.response(captured)
            guard (200..<300).contains(response.status) else {
                return .failure(ListMerge.PageError(description: "answered \(response.status)"))
            }
            guard !response.truncated else { return .failure(ListMerge.PageError(description: "the answer is larger than \(Self.cap) bytes")) }
            return ListMerge.page(response.body, settings: settings)
        case .failed(let reason):
            return .failure(ListMerge.PageError(description: reason))
        case nil:
            return .failure(ListMerge.PageError(description: "no answer"))
        }
    }

    /// The most bytes of one side's page that are read.
    static let cap = 16 * 1024 * 1024

    func answer() -> Answer {
        let old = page(.old), new = page(.new)
        var failures: [String] = []
        if case .failure(let error) = old { failures.append("old \(error)") }
        if case .failure(let error) = new { failures.append("new \(error)") }
        var partial: String?
        if !failures.isEmpty {
            let answered = [old.flatMap { try? $0.get() } != nil ? "old" : nil, new.flatMap { try? $0.get() } != nil ? "new" : nil].compactMap { $0 }
            guard settings.onPartial == .degrade, answered.count == 1 else {
                // Only sides shed at a full line failed: a passing condition (503), not a broken backend (502).
                let failed = Set([old, new].enumerated().compactMap { index, page -> SideExchange.Role? in
                    guard case .failure = page else { return nil }
                    return index == 0 ? .old : .new
                })
                let status = !failed.isEmpty && failed.isSubset(of: busy) ? 503 : 502
                return Answer(status: status, body: "", headers: [], error: "list aggregation failed: " + failures.joined(separator: "; "))
            }
            partial = answered[0]
        }
        let oldPage = old.flatMap { try? $0.get() }, newPage = new.flatMap { try? $0.get() }
        let merged = ListMerge.merge(old: oldPage?.items, new: newPage?.items, cursor: cursor, limit: limit, order: settings.order)
        let next = merged.next?.encoded
        // The envelope comes from old when old answered (new's otherwise); both sides out of pages: an empty list.
        let body: String
        if let envelope = oldPage?.document ?? newPage?.document {
            body = ListMerge.render(envelope, replacing: [
                settings.array: "[" + merged.items.joined(separator: ",") + "]",
                settings.nextCursor: next.map(ListMerge.quoted) ?? "null",
            ])
        } else {
            body = "{}"
        }
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        if let next { headers.append(("X-Cutover-Next-Cursor", next)) }
        if let partial { headers.append(("X-Cutover-Partial", partial)) }
        return Answer(status: 200, body: body, headers: headers, error: nil)
    }
}

/// A list request the gateway cannot page: a bad limit or a cursor it did not issue.
