/// One change on its way to one receiver, as `depot webhooks` shows it.
public struct WebhookDelivery: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Not delivered yet: waiting for its turn, or for its next attempt.
        case pending
        case delivered
        /// Given up on, after `WebhookDelivery.retryWindow` of failed attempts.
        case failed
    }

    /// The store's number for it: deliveries to one receiver go out in this order.
    public var id: Int64
    public var receiver: String
    /// The `X-Depot-Delivery` header: the same on every attempt.
    public var delivery: String
    public var event: String
    /// The history entry it tells of (nil for an approval).
    public var historyID: Int64?
    public var state: State
    public var attempts: Int
    /// When it was recorded, when its next attempt is due, and when it was delivered or
    /// given up on: ISO 8601, UTC.
    public var recorded: String
    public var nextAttempt: String?
    public var finished: String?
    public var lastError: String?

    /// How long failed attempts are retried before a delivery is given up on.
    public static let retryWindow: Int64 = 24 * 3600
    /// How long `depot gc` keeps a delivery once it was delivered or given up on, in seconds.
    public static let keptFor = 30 * 86400
    /// The longest wait between two attempts.
    public static let longestBackoff: Int64 = 600

    /// Seconds until the attempt after the `attempts`th failed one: 1, 2, 4 ... 600.
    static func backoff(afterAttempts attempts: Int) -> Int64 {
        attempts >= 10 ? longestBackoff : min(longestBackoff, Int64(1) << max(0, attempts - 1))
    }
}
