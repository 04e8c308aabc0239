/// What `GET /metrics` reports of the repository's state, read from the store without scanning
/// it: what needs a count is counted again only for distributions that changed since.
public struct RepositoryGauges: Sendable {
    public struct Distribution: Sendable {
        public var name: String
        /// Changes recorded, and the change the served tree shows (publication generations).
        public var recorded: Int64
        public var published: Int64
        /// When the served `Release` was last signed (a publish or a re-sign), in seconds
        /// since the epoch; nil before the first.
        public var signedAt: Int64?
        /// Its `Valid-For`, in seconds.
        public var validFor: Int?
        /// Listed package files, every architecture and component.
        public var packages: Int

        /// Seconds until the served `Release`'s `Valid-Until`, at `now`.
        public func secondsValid(at now: Int64) -> Int64? {
            guard let signedAt, let validFor else { return nil }
            return signedAt + Int64(validFor) - now
        }
    }

    /// A `Promotes-To` pair and how many package files a promotion of everything would
    /// bring in (new or newer in `from`), as `depot diff` counts them.
    public struct Promotion: Sendable {
        public var from: String
        public var to: String
        public var pending: Int
        /// The generations of both when counted.
        var counted: [Int64]
    }

    public var distributions: [Distribution] = []
    public var promotions: [Promotion] = []
    /// Deliveries not yet made, by receiver (`Webhook.publicName`: every receiver depot.conf
    /// names, 0 when none).
    public var undeliveredWebhooks: [String: Int] = [:]
}
