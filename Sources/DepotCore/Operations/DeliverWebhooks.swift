import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// Delivers the webhook outbox: each receiver on a task of its own, so a slow or dead one
/// holds up only itself, its deliveries one at a time in the order the changes were made.
/// Several processes (nodes, `depot webhooks --deliver`) may deliver from one store at once:
/// the store leases each delivery to one of them, and a lease that runs out (its node died)
/// hands the delivery to the next that asks.
public final class WebhookDeliverer: Sendable {
    let repository: Repository
    /// This process, as the store's leases name it.
    let node: String
    let client: HTTPClient

    /// Each attempt's limit: connecting, sending and the answer's head and body.
    static let attemptTimeout: Int64 = 10
    /// How long a node holds a delivery it attempts: longer than an attempt can take.
    static let lease: Int64 = 15
    /// The most of an answer's body kept, for the error that a non-2xx answer records.
    static let answerExcerpt = 512

    public init(repository: Repository) {
        self.repository = repository
        node = "\(ProcessInfo.processInfo.hostName) pid \(getpid()) \(UUID().uuidString.prefix(8).lowercased())"
        var configuration = HTTPClient.Configuration()
        // A receiver that redirects is misconfigured: its answer is recorded as a failure,
        // and the body (with its signature) never goes where depot.conf did not say.
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(Self.attemptTimeout)
        configuration.timeout.read = .seconds(Self.attemptTimeout)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// What one round of delivery did.
    public struct Round: Sendable, Hashable {
        public var delivered = 0
        public var failedAttempts = 0
    }

    /// Delivers, to every receiver at once, what is due now: each receiver's deliveries in
    /// order until one fails (it waits for its next attempt) or none is left.
    public func deliverDue() async -> Round {
        await withTaskGroup(of: Round.self) { group in
            for webhook in repository.configuration.webhooks {
                group.addTask { await self.deliverDue(to: webhook) }
            }
            var total = Round()
            for await round in group {
                total.delivered += round.delivered
                total.failedAttempts += round.failedAttempts
            }
            return total
        }
    }

    /// Delivers for as long as the task runs: each receiver looks for due deliveries every
    /// `interval` seconds (`depot serve`).
    public func run(every interval: Double, onError: @escaping @Sendable (String) -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for webhook in repository.configuration.webhooks {
                group.addTask {
                    while !Task.isCancelled {
                        let round = await self.deliverDue(to: webhook, onError: onError)
                        if round.delivered == 0 || round.failedAttempts > 0 {
                            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                        }
                    }
                }
            }
        }
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    private func deliverDue(to webhook: Webhook, onError: (@Sendable (String) -> Void)? = nil) async -> Round {
        var round = Round()
        do {
            while !Task.isCancelled {
                let now = MetadataStore.milliseconds(Date())
                // Looking is a read; only a due delivery is claimed, in a write.
                guard
                    let id = try await onDispatchThread({ [repository, node] in
                        try repository.read { db in
                            try MetadataStore.dueDelivery(db, receiver: webhook.url, node: node, now: now)
                        }
                    }),
                    let delivery = try await onDispatchThread({ [repository, node] in
                        try repository.write { db in
                            try MetadataStore.claimDelivery(
                                db, id: id, node: node, now: now, until: now + Self.lease * 1000)
                        }
                    })
                else { break }
                let error = await attempt(delivery, to: webhook)
                let finished = MetadataStore.milliseconds(Date())
                let stillHeld = try await onDispatchThread { [repository, node] in
                    try repository.write { db in
                        try MetadataStore.recordAttempt(db, delivery, node: node, now: finished, error: error)
                    }
                }
                if error == nil { round.delivered += 1 } else { round.failedAttempts += 1 }
                if error != nil || !stillHeld { break }
            }
        } catch {
            onError?("delivering to \(webhook.publicName): \(error)")
        }
        return round
    }

    /// One attempt: nil when the receiver answered 2xx, else what went wrong.
    private func attempt(_ delivery: MetadataStore.ClaimedDelivery, to webhook: Webhook) async -> String? {
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Depot-Webhook")
        request.headers.add(name: "X-Depot-Event", value: delivery.event)
        request.headers.add(name: "X-Depot-Delivery", value: delivery.delivery)
        if let secretFile = webhook.secretFile {
            switch secret(secretFile) {
            case .success(let key):
                request.headers.add(name: "X-Depot-Signature-256", value: Self.signature(of: delivery.body, key: key))
            case .failure(let problem):
                return problem.message
            }
        }
        request.body = .bytes(ByteBuffer(string: delivery.body))
        do {
            let response = try await client.execute(request, timeout: .seconds(Self.attemptTimeout))
            var excerpt = [UInt8]()
            // Read only the start of the answer, whatever its size.
            for try await chunk in response.body {
                excerpt += chunk.readableBytesView.prefix(Self.answerExcerpt - excerpt.count)
                if excerpt.count >= Self.answerExcerpt { break }
            }
            guard (200..<300).contains(response.status.code) else {
                let text = String(decoding: excerpt, as: UTF8.self).filter { !$0.isNewline }.prefix(200)
                let redirect = (300..<400).contains(response.status.code) ? " (redirects are not followed)" : ""
                return "answered \(response.status.code) \(response.status.reasonPhrase)\(redirect)"
                    + (text.isEmpty ? "" : ": \(text)")
            }
            return nil
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return "no answer within \(Self.attemptTimeout) s"
        } catch let error as HTTPClientError where error == .connectTimeout {
            return "could not connect within \(Self.attemptTimeout) s"
        } catch {
            return "\(error)"
        }
    }

    struct SecretProblem: Error { var message: String }

    /// The key in the first line of `path` (relative to the repository's root).
    private func secret(_ path: String) -> Result<[UInt8], SecretProblem> {
        let full = path.hasPrefix("/") ? path : repository.root + "/" + path
        guard let data = FileManager.default.contents(atPath: full) else {
            let reason = FileManager.default.fileExists(atPath: full) ? "cannot be read" : "does not exist"
            return .failure(SecretProblem(message: "the secret file \(full) \(reason): nothing was sent"))
        }
        let key = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !key.isEmpty else {
            return .failure(SecretProblem(message: "the secret file \(full) is empty: nothing was sent"))
        }
        return .success(Array(key.utf8))
    }

    /// `sha256=` and the hex HMAC-SHA256 of `body` under `key`, as a receiver recomputes it.
    static func signature(of body: String, key: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: key))
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }
}
