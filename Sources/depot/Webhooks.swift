import ArgumentParser
import DepotCore
import Foundation

struct Webhooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the latest webhook deliveries, or deliver what is due.",
        discussion: """
            Every change a Webhook: stanza of depot.conf asks for is recorded with the change, one delivery per receiver, and delivered by 'depot serve' (or by 'depot webhooks --deliver', from cron, where no server runs): in the order the changes were made, each retried after 1 s, 2 s, 4 s ... up to every 10 minutes, for 24 hours, until the receiver answers 2xx. Lists each delivery with its state (pending, delivered, failed: given up), its attempts and the last error.
            With --deliver, exits 1 when an attempt failed (it is retried later).
            Examples:
              depot webhooks
              depot webhooks --json --limit 200
              depot webhooks --deliver
            """)

    @OptionGroup var repository: RepositoryOptions

    @Option(help: "Show at most this many deliveries, newest first.")
    var limit = 50

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Deliver what is due now, each receiver's deliveries in order until one fails, then exit.")
    var deliver = false

    func validate() throws {
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 100000") }
    }

    func run() async throws {
        let repository = try repository.open()
        if deliver {
            guard !repository.configuration.webhooks.isEmpty else {
                throw DepotError.invalidArgument(
                    "depot.conf has no Webhook: stanza, so there is nothing to deliver (see depot.conf(5))")
            }
            let deliverer = WebhookDeliverer(repository: repository)
            let round = await deliverer.deliverDue()
            await deliverer.shutdown()
            if json {
                try printJSON(["delivered": round.delivered, "failedAttempts": round.failedAttempts])
            } else {
                printLine("delivered \(round.delivered), failed attempts \(round.failedAttempts)")
            }
            if round.failedAttempts > 0 {
                printError("depot: \(round.failedAttempts) attempt(s) failed; 'depot webhooks' shows why")
                Foundation.exit(1)
            }
            return
        }
        let deliveries = try repository.webhookDeliveries(limit: limit)
        if json { return try printJSON(deliveries) }
        if deliveries.isEmpty {
            printLine(
                repository.configuration.webhooks.isEmpty
                    ? "no deliveries (depot.conf has no Webhook: stanza)" : "no deliveries yet")
        }
        let configured = Set(repository.configuration.webhooks.map(\.url))
        for delivery in deliveries {
            let entry = delivery.historyID.map { "history #\($0)" } ?? "approval"
            printLine(
                "\(delivery.id) \(delivery.recorded) \(delivery.event) (\(entry)) to \(delivery.receiver): "
                    + "\(delivery.state.rawValue), \(delivery.attempts) attempt\(delivery.attempts == 1 ? "" : "s")")
            if let next = delivery.nextAttempt, delivery.attempts > 0 { printLine("  next attempt: \(next)") }
            if let error = delivery.lastError { printLine("  last error: \(error)") }
            if delivery.state == .pending && !configured.contains(delivery.receiver) {
                printLine("  depot.conf no longer names this receiver: it is not delivered")
            }
        }
    }
}
