import ArgumentParser
import CoreMetrics
import DepotCore
import DepotServer
import Foundation
import Prometheus

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve public/ for apt, the JSON API and the dashboard over HTTP.",
        discussion: """
            Serves /dists/, /pool/ and /archive-key.asc as they are on disk, the API under /api/v1/ (every call needs 'Authorization: Bearer TOKEN', see 'depot token'), the dashboard at /, /healthz, and /metrics in Prometheus' text format (no token needed; --no-metrics turns it off). Delivers the webhook outbox ('depot webhooks'). Takes the steps of phased rollouts ('depot phase --ramp') when they are due, and re-signs a distribution with Valid-For once less than half of it is left, so that a distribution that does not change never expires on its clients. Logs one line per request on standard error. Stops on SIGTERM or SIGINT once the requests under way are answered. The CLI keeps working on the same root meanwhile.
            Examples:
              depot serve
              depot serve --listen 0.0.0.0:8080 --max-upload-size 512M
            """)

    @OptionGroup var repository: RepositoryOptions

    @Option(help: ArgumentHelp("The address to listen on.", valueName: "HOST:PORT"))
    var listen = "127.0.0.1:8080"

    // Unconditional, so that '-5' is read as the (refused) value rather than as an option.
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("The largest .deb the API accepts: bytes, or with K, M or G.", valueName: "SIZE"))
    var maxUploadSize = "2G"

    @Option(
        help: ArgumentHelp(
            "Connections open at once (default: half of what the process may open). When all are taken, the one that has waited longest for a request is closed for the new one.",
            valueName: "N"))
    var maxConnections: Int?

    @Option(
        help: ArgumentHelp(
            "Seconds a connection may take to send a whole request head, after it opens or after an answer, and a request body may pause.",
            valueName: "SECONDS"))
    var requestTimeout: Double = 30

    @Option(
        help: ArgumentHelp(
            "With a PostgreSQL store and a bucket: every this many seconds, publish what another node recorded but did not publish (it died); 0: never.",
            valueName: "SECONDS"))
    var republishEvery: Double = 30

    @Option(
        help: ArgumentHelp(
            "Every this many seconds, take the steps of phased rollouts that are due ('depot phase --ramp'); 0: never (leave them to 'depot phase --advance').",
            valueName: "SECONDS"))
    var advancePhasesEvery: Double = 60

    @Option(
        help: ArgumentHelp(
            "Every this many seconds, look for webhook deliveries that are due (each receiver apart); 0: never (leave them to another node or 'depot webhooks --deliver').",
            valueName: "SECONDS"))
    var deliverWebhooksEvery: Double = 0.5

    @Flag(help: "Serve no /metrics (Prometheus' text format, which anyone who reaches the server may read).")
    var noMetrics = false

    func validate() throws {
        try checkSeconds(republishEvery, "--republish-every", allowingZero: true)
        try checkSeconds(advancePhasesEvery, "--advance-phases-every", allowingZero: true)
        try checkSeconds(deliverWebhooksEvery, "--deliver-webhooks-every", allowingZero: true)
        try checkSeconds(requestTimeout, "--request-timeout", allowingZero: false)
        if let maxConnections, !(1...1_000_000).contains(maxConnections) {
            throw ValidationError("--max-connections must be from 1 to 1000000")
        }
        guard Self.address(listen) != nil else {
            throw ValidationError("--listen takes HOST:PORT, such as 127.0.0.1:8080, not '\(listen)'")
        }
        guard Self.size(maxUploadSize) != nil else {
            throw ValidationError(
                "--max-upload-size takes a positive size such as 104857600, 512M or 2G, not '\(maxUploadSize)'")
        }
    }

    func run() async throws {
        let (host, port) = Self.address(listen)!
        let repository = try repository.open()
        var limits = ConnectionLimits.standard()
        if let maxConnections { limits.maximumConnections = maxConnections }
        limits.requestTimeout = .milliseconds(Int(requestTimeout * 1000))
        var metrics: ServerMetrics?
        if !noMetrics {
            let registry = PrometheusCollectorRegistry()
            // What the library records (publish durations) goes where /metrics reads.
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            metrics = ServerMetrics(registry: registry)
        }
        let server = Server(
            host: host, port: port, maximumUploadSize: Self.size(maxUploadSize)!, connectionLimits: limits,
            metrics: metrics)
        if republishEvery > 0 {
            Self.repeatedly(every: republishEvery, "publishing what another node left unpublished") {
                try repository.publishWhatOtherNodesLeft()
            }
        }
        if advancePhasesEvery > 0 {
            Self.repeatedly(every: advancePhasesEvery, "taking the due steps of phased rollouts") {
                for change in try repository.advancePhases(command: "depot serve") {
                    printError(
                        "depot: phased \(change.package) \(change.version) in \(change.distribution) "
                            + "to \(change.after)%")
                }
            }
        }
        if let interval = repository.resignCheckInterval {
            Self.repeatedly(every: interval, "re-signing distributions whose Release is about to expire") {
                for distribution in try repository.resignExpiring() {
                    printError("depot: re-signed \(distribution): its Valid-For was half gone")
                }
            }
        }
        if deliverWebhooksEvery > 0 && !repository.configuration.webhooks.isEmpty {
            let deliverer = WebhookDeliverer(repository: repository)
            Task.detached { [deliverWebhooksEvery] in
                await deliverer.run(every: deliverWebhooksEvery) { printError("depot: \($0)") }
            }
        }
        try await server.run(repository: repository) { address in
            FileHandle.standardError.write(Data("depot: serving \(repository.root) on http://\(address)/\n".utf8))
        }
    }

    /// Runs `work` every `seconds` on a thread of its own (it blocks: it publishes), for as
    /// long as the server runs; a failure is logged and the next round tries again.
    private static func repeatedly(every seconds: Double, _ what: String, _ work: @escaping @Sendable () throws -> Void)
    {
        Thread.detachNewThread {
            while true {
                Thread.sleep(forTimeInterval: seconds)
                do {
                    try work()
                } catch {
                    printError("depot: \(what) failed: \(error)")
                }
            }
        }
    }

    static func address(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port), colon != text.startIndex
        else { return nil }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }

    static func size(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let unit = text.last.flatMap({ units[Character($0.uppercased())] }), let value = Int(text.dropLast()),
            value > 0
        {
            let (bytes, overflow) = value.multipliedReportingOverflow(by: unit)
            return overflow ? nil : bytes
        }
        return Int(text).flatMap { $0 > 0 ? $0 : nil }
    }
}
