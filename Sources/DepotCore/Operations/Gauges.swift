extension Repository {
    /// The repository's state for `GET /metrics`, from one read of the store: the
    /// publication generations and the webhook outbox's undelivered counts (an index lookup
    /// each). Package counts and pending promotions, which read listings, are taken from
    /// `previous` for every distribution whose generation has not changed since.
    public func gauges(updating previous: RepositoryGauges?) throws -> RepositoryGauges {
        let distributions = try self.distributions()
        return try read { db in
            let generations = try MetadataStore.generations(db)
            var gauges = RepositoryGauges()
            let earlier = Dictionary(
                (previous?.distributions ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for distribution in distributions {
                let generation = generations[distribution.name]
                let recorded = generation?.recorded ?? 0
                let packages =
                    try earlier[distribution.name].flatMap { $0.recorded == recorded ? $0.packages : nil }
                    ?? MetadataStore.listingCount(db, distribution: distribution.name)
                gauges.distributions.append(
                    RepositoryGauges.Distribution(
                        name: distribution.name, recorded: recorded, published: generation?.published ?? 0,
                        signedAt: generation?.signedAt, validFor: distribution.validFor, packages: packages))
            }
            for distribution in distributions {
                guard let target = distribution.promotesTo else { continue }
                let counted = [distribution.name, target].map { generations[$0]?.recorded ?? 0 }
                if let known = previous?.promotions.first(where: {
                    $0.from == distribution.name && $0.to == target && $0.counted == counted
                }) {
                    gauges.promotions.append(known)
                    continue
                }
                let pending = try differences(db, from: distribution.name, to: target)
                    .filter { $0.kind == .new || $0.kind == .upgrade }.count
                gauges.promotions.append(
                    RepositoryGauges.Promotion(from: distribution.name, to: target, pending: pending, counted: counted))
            }
            let undelivered = try MetadataStore.undeliveredCounts(db)
            for webhook in configuration.webhooks {
                gauges.undeliveredWebhooks[webhook.publicName] = undelivered[webhook.url] ?? 0
            }
            return gauges
        }
    }
}
