import Crypto
import Foundation

/// A `Webhook:` stanza of depot.conf: a receiver told of each change it asked for.
public struct Webhook: Sendable, Hashable {
    /// What a change is called in a delivery's `event` field and in `Events:`.
    public enum Event: String, Sendable, Hashable, CaseIterable, Codable {
        case push, promote, remove, rollback, phase, approve

        /// The event of a history entry's operation; a ramp stopped by a revoked token is a
        /// change of phase.
        init?(operation: String) {
            if operation == "ramp-stopped" {
                self = .phase
            } else {
                self.init(rawValue: operation)
            }
        }
    }

    /// The body of a delivery: the change as JSON, or a Slack-compatible `{"text": ...}`.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        case json, slack
    }

    /// Where deliveries are POSTed: also the receiver's name in the store, so each URL
    /// appears once in depot.conf.
    public var url: String
    public var events: Set<Event> = Set(Event.allCases)
    /// The file whose first line is the HMAC key; relative paths are read from the
    /// repository's root. Read at each attempt, so a rotated secret applies at once.
    public var secretFile: String?
    public var format: Format = .json

    /// How the receiver is named where its URL must not be shown (`/metrics`, the server's
    /// log): a Slack webhook's URL is its secret. The scheme and host, and the first eight hex
    /// digits of the URL's SHA-256, which tell receivers on one host apart.
    public var publicName: String {
        let digest = SHA256.hash(data: Data(url.utf8)).prefix(4).map { String(format: "%02x", $0) }.joined()
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, let host = parts.host else {
            return "webhook \(digest)"
        }
        return "\(scheme)://\(host)\(parts.port.map { ":\($0)" } ?? "")/… (\(digest))"
    }

    public init(url: String, events: Set<Event> = Set(Event.allCases), secretFile: String? = nil, format: Format = .json) {
        self.url = url
        self.events = events
        self.secretFile = secretFile
        self.format = format
    }
}
