import ArgumentParser
import CutoverAdmin
import Foundation

/// `cutover diffs`: the comparator's report from a running gateway.
struct DiffsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffs",
        abstract: "Read the comparator's report from a running gateway's admin API.",
        discussion: "The token comes from the CUTOVER_TOKEN environment variable (a viewer's token is enough).",
        subcommands: [DiffsSummaryCommand.self, DiffsShowCommand.self]
    )
}

struct DiffsSummaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Per route: compared, differing and noise-only requests, and every field that differed with its verdict."
    )

    @OptionGroup var options: AdminOptions

    @Option(name: .long, help: "Only this route.")
    var route: String?

    @Option(name: .long, help: "Only what was compared since: a duration back from now (24h), an ISO 8601 time, or seconds since 1970.")
    var since: String?

    func run() async throws {
        let (summary, text) = try await options.withClient(command: "diffs summary") { client in
            try await client.call(.GET, "/api/v1/diffs/summary", query: [("route", route), ("since", since)], as: DiffSummaryResponse.self)
        }
        print(options.json ? text : DiffReportText.summary(summary))
    }
}

struct DiffsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "The most recent samples of a route (both requests' answers and their differences), newest first."
    )

    @OptionGroup var options: AdminOptions

    @Option(name: .long, help: "The route.")
    var route: String

    @Option(name: .long, help: "Only samples differing in this field (a path from the summary, like /items/*/price).")
    var field: String?

    @Option(name: .long, help: "How many samples (1 to 200).")
    var limit = 5

    @Flag(name: .long, help: "Print whole bodies (by default each is cut at 600 characters).")
    var full = false

    func validate() throws {
        guard (1...200).contains(limit) else { throw ValidationError("--limit must be from 1 to 200, not \(limit)") }
    }

    func run() async throws {
        let (samples, text) = try await options.withClient(command: "diffs show") { client in
            try await client.call(.GET, "/api/v1/diffs/samples", query: [("route", route), ("field", field), ("limit", "\(limit)")],
                                  as: DiffSamplesResponse.self)
        }
        print(options.json ? text : DiffReportText.samples(samples, bodyLimit: full ? nil : 600))
    }
}
