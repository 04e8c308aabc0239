import DepotCore
import DepotTestSupport
import Foundation
import Testing

extension ScratchRepository {
    /// Appends `stanzas` (Webhook: stanzas) to depot.conf.
    func addToConfiguration(_ stanzas: String) throws {
        let path = root.appendingPathComponent("depot.conf").path
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n" + stanzas).utf8))
        try handle.close()
    }

    /// `depot webhooks --json`, newest first.
    func webhookDeliveries(limit: Int = 1000) throws -> [WebhookDelivery] {
        let result = try depot(["webhooks", "--json", "--limit", String(limit)])
        guard result.status == 0 else { throw TestSupportError("depot webhooks failed: \(result.standardError)") }
        return try JSONDecoder().decode([WebhookDelivery].self, from: result.standardOutput)
    }

    /// Waits until no delivery is pending, or `seconds` have passed; whether none is.
    @discardableResult
    func waitForDeliveries(within seconds: Double) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try !webhookDeliveries().contains(where: { $0.state == .pending }) { return true }
            usleep(200_000)
        }
        return false
    }
}

/// The body's HMAC-SHA256 under `key`, as a receiver computes it: with openssl, not Depot's code.
func receiverSignature(of body: String, key: String) throws -> String {
    let result = try TestSupport.run("openssl", ["dgst", "-sha256", "-hmac", key, "-r"], input: Data(body.utf8))
    return "sha256=" + (result.text.split(separator: " ").first.map(String.init) ?? "")
}

/// Webhooks (depot.conf's `Webhook:` stanzas) delivered by `depot serve` and `depot webhooks
/// --deliver` to real HTTP receivers on 127.0.0.1.
@Suite struct WebhookTests {
    /// The history ids the receiver acknowledged (answered 2xx), in the order it got them.
    static func acknowledged(_ requests: [WebhookReceiver.Request], failingFirst: Int) -> [Int] {
        requests.filter { $0.number > failingFirst }.compactMap { $0.object["id"] as? Int }
    }

    @Test func everyChangeReachesItsReceiversInOrderSignedAcrossAKillAndARestart() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let flaky = try WebhookReceiver(mode: "fail-first:2")
        let chat = try WebhookReceiver()
        try "s3cr3t-key\n".write(to: repository.root.appendingPathComponent("webhook.secret"), atomically: true, encoding: .utf8)
        try repository.addToConfiguration(
            """
            Webhook: \(flaky.url)
            Secret-File: webhook.secret

            Webhook: \(chat.url)
            Format: slack
            Events: promote

            """)
        let packages = PackageBuilder()
        var server = try DepotServe(root: repository.root)
        for (index, name) in ["wren", "finch", "robin"].enumerated() {
            try #require(try repository.depot(["push", "development", try packages.make(name, "1.\(index)-1")]).status == 0)
        }
        try #require(
            try repository.depot(["promote", "wren", "--from", "development", "--note", "CHG-2040 <!channel>"]).status == 0)
        // Approved by another user than the one who pushed it.
        let reviewer = ScratchRepository(
            existing: repository.root, environment: ProcessInfo.processInfo.environment.merging(["USER": "qa"]) { $1 })
        try #require(try reviewer.depot(["approve", "production", "wren=1.0-1"]).status == 0)
        try #require(try repository.depot(["phase", "staging", "wren", "30"]).status == 0)
        // Killed at once, whatever it was delivering; the changes made while no server runs
        // wait in the outbox.
        server.killNow()
        try #require(try repository.depot(["remove", "development", "finch"]).status == 0)
        try #require(try repository.depot(["rollback", "staging", "wren"]).status == 0)
        server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let delivered = try repository.waitForDeliveries(within: 60)
        #expect(delivered, "\((try? repository.webhookDeliveries()) ?? [])")

        let history = try repository.history().reversed().map { Int($0.id) }
        #expect(history.count == 7)
        let requests = flaky.requests()
        // At least once, in order: what the receiver acknowledged, with a repeat dropped where
        // a kill came between an answer and its record, is every change in history order.
        var firsts: [Int] = []
        for id in Self.acknowledged(requests, failingFirst: 2) where firsts.last != id { firsts.append(id) }
        #expect(firsts == history)
        // The approval (no history entry) arrived between the promotion and the phase.
        let events = requests.filter { $0.number > 2 }.compactMap { $0.headers["x-depot-event"] }
        var distinctEvents: [String] = []
        for event in events where distinctEvents.last != event { distinctEvents.append(event) }
        #expect(distinctEvents == ["push", "promote", "approve", "phase", "remove", "rollback"])
        for request in requests {
            #expect(request.headers["x-depot-signature-256"] == (try receiverSignature(of: request.body, key: "s3cr3t-key")))
            #expect(request.headers["content-type"] == "application/json")
            #expect(request.headers["x-depot-event"] == request.object["event"] as? String)
        }
        // One X-Depot-Delivery per change, the same on every attempt.
        let byDelivery = Dictionary(grouping: requests, by: { $0.headers["x-depot-delivery"] ?? "" })
        #expect(byDelivery.count == 8)
        for attempts in byDelivery.values { #expect(Set(attempts.map(\.body)).count == 1) }
        // The failed attempts are recorded: the first change took three.
        let first = try #require(try repository.webhookDeliveries().last { $0.receiver == flaky.url })
        #expect(first.attempts >= 3 && first.state == .delivered)

        let promotion = try #require(requests.first { $0.headers["x-depot-event"] == "promote" }?.object)
        #expect(promotion["from"] as? String == "development")
        #expect(promotion["distribution"] as? String == "staging")
        #expect(promotion["note"] as? String == "CHG-2040 <!channel>")
        let change = try #require((promotion["changes"] as? [[String: Any]])?.first)
        #expect(change["package"] as? String == "wren" && change["after"] as? String == "1.0-1")
        #expect(change.keys.sorted() == ["after", "architecture", "before", "package", "phase"])

        // Slack: only the promotion, as one line, its note escaped for Slack.
        let said = chat.requests().map(\.body)
        #expect(Set(said).count == 1)
        let slackBody = try #require(said.first)
        let text = try #require(
            (try JSONSerialization.jsonObject(with: Data(slackBody.utf8)) as? [String: String])?["text"])
        #expect(text.hasPrefix("wren 1.0-1 promoted to staging by "))
        #expect(text.hasSuffix(" (CHG-2040 &lt;!channel&gt;)"))
        #expect(chat.requests().allSatisfy { $0.headers["x-depot-signature-256"] == nil })
    }

    @Test func aReceiverThatNeverAnswersHoldsUpNeitherChangesNorOtherReceivers() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let silent = try WebhookReceiver(mode: "silent")
        let listening = try WebhookReceiver()
        try repository.addToConfiguration("Webhook: \(silent.url)\n\nWebhook: \(listening.url)\n")
        let server = try DepotServe(root: repository.root)
        defer { server.stop() }
        let packages = PackageBuilder()
        let files = try (0..<4).map { try packages.make("quiet\($0)", "1.0-1") }
        for file in files {
            let started = Date()
            try #require(try repository.depot(["push", "development", file]).status == 0)
            // A push waits for nothing a receiver does (the bound is the push's own work).
            #expect(Date().timeIntervalSince(started) < 5)
        }
        // The listening receiver has every change while the silent one still holds its first.
        let deadline = Date().addingTimeInterval(8)
        while listening.requests().count < files.count && Date() < deadline { usleep(100_000) }
        #expect(listening.requests().compactMap { $0.object["id"] as? Int } == [1, 2, 3, 4])
        #expect(silent.requests().count == 1)
        // After the attempt's 10 seconds, the silent one's first delivery records the timeout.
        let timedOut = Date().addingTimeInterval(20)
        var first: WebhookDelivery?
        repeat {
            usleep(250_000)
            first = try repository.webhookDeliveries().last { $0.receiver == silent.url }
        } while first?.lastError == nil && Date() < timedOut
        #expect(first?.state == .pending)
        #expect(first?.lastError == "no answer within 10 s")
    }

    @Test func badReceiversAreRecordedFailuresAndNoChangeFails() throws {
        let repository = try ScratchRepository()
        defer { repository.remove() }
        let redirecting = try WebhookReceiver(mode: "redirect")
        let huge = try WebhookReceiver(mode: "huge")
        let closed = try WebhookReceiver()
        let closedURL = closed.url
        _ = consume closed
        let signed = try WebhookReceiver()
        try repository.addToConfiguration(
            """
            Webhook: \(redirecting.url)

            Webhook: \(huge.url)

            Webhook: \(closedURL)

            Webhook: \(signed.url)
            Secret-File: /nonexistent/webhook.secret

            """)
        let packages = PackageBuilder()
        try #require(try repository.depot(["push", "development", try packages.make("sparrow", "1.0-1")]).status == 0)
        let round = try repository.depot(["webhooks", "--deliver"])
        #expect(round.status == 1)
        #expect(round.text.contains("delivered 1, failed attempts 3"), "\(round.text)")
        let deliveries = Dictionary(
            uniqueKeysWithValues: try repository.webhookDeliveries().map { ($0.receiver, $0) })
        #expect(deliveries[huge.url]?.state == .delivered)
        #expect(deliveries[redirecting.url]?.lastError == "answered 302 Found (redirects are not followed)")
        #expect(deliveries[redirecting.url]?.state == .pending)
        #expect(deliveries[closedURL]?.lastError?.contains("onnection refused") == true, "\(deliveries[closedURL]?.lastError ?? "")")
        #expect(
            deliveries[signed.url]?.lastError
                == "the secret file /nonexistent/webhook.secret does not exist: nothing was sent")
        #expect(signed.requests().isEmpty)
        // Retried no sooner than the backoff says: a second round right away attempts nothing.
        let again = try repository.depot(["webhooks", "--deliver"])
        #expect(again.text.contains("delivered 0, failed attempts 0"), "\(again.text)")
        let listing = try repository.depot(["webhooks"])
        #expect(listing.text.contains("last error: answered 302 Found"))
    }
}
