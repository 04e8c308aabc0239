import AptRepository
import CoreMetrics
import DebianFormat
import Foundation

extension Repository {
    /// Rewrites the indices and signatures of the given distributions (all when empty).
    public func publish(_ distributions: [String] = []) throws {
        for name in distributions { try requireDistribution(name) }
        try withLock {
            try write { db in
                for name in try distributions.isEmpty ? self.distributions().map(\.name) : distributions {
                    try MetadataStore.markUnpublished(db, name)
                }
            }
            try publishPending()
        }
    }

    /// Publishes what earlier changes recorded but left unpublished, before a new change is
    /// made: a failure here says that the new change was not made.
    ///
    /// A distribution another node is publishing right now is left to it: what that node does
    /// not take in, its own writers publish after their commits, and only what dead writers
    /// left needs a later command.
    func publishEarlierChanges() throws {
        do {
            try publishPending(waiting: false)
        } catch DepotError.publishing(let error) {
            throw DepotError.earlierChangesUnpublished(error)
        }
    }

    /// On a node sharing its store and bucket with others: publishes what another node
    /// recorded and did not publish (it died meanwhile), unless a node is publishing it now.
    /// `depot serve` calls this every little while, so that such a change reaches apt without
    /// waiting for the next one.
    public func publishWhatOtherNodesLeft() throws {
        guard store.isShared && storage.isShared else { return }
        try withLock { try publishPending(waiting: false) }
    }

    /// Publishes every distribution a change (or an interrupted earlier run) left unpublished.
    /// Call with the lock held. `precompressed`: chunks compressed ahead of time for these
    /// indices (`Publisher.precompress`).
    ///
    /// With `waiting`, a node waits for another publishing the same distribution, then
    /// publishes whatever is still unpublished: every change committed meanwhile, on any node,
    /// in one go. Without it, a distribution another node is publishing is left to that node.
    func publishPending(precompressed: PrecompressedChunks = .init(), waiting: Bool = true) throws {
        let pending = try read { db in try MetadataStore.unpublished(db) }
        guard !pending.isEmpty else { return }
        try storage.writeArchiveKeyIfMissing { Array(try exportKey().utf8) }
        for name in pending {
            guard let distribution = configuration.distribution(name) else { continue }
            _ = try store.publishing(name, waiting: waiting) { try publish(distribution, precompressed: precompressed) }
        }
    }

    /// Publishes the generation of `distribution` the store holds, unless another node has
    /// published it (or a later one) meanwhile.
    ///
    /// What the publish replaces is read before the store is: a node that stalls after its
    /// read and wakes after another node published a later generation finds the served
    /// `InRelease` changed, and replaces nothing; and the generation it records as published
    /// only ever rises.
    private func publish(_ distribution: Configuration.Distribution, precompressed: PrecompressedChunks) throws {
        let name = distribution.name
        let started = ContinuousClock.now
        let base: PublishBase
        do {
            base = try storage.publishBase(of: name)
        } catch {
            throw DepotError.publishing(error)
        }
        let snapshot = try read { db -> (generation: Int64, indices: [PackagesIndex])? in
            guard let generation = try MetadataStore.unpublishedGeneration(db, name) else { return nil }
            return (generation, try self.indices(db, for: distribution))
        }
        guard let snapshot else { return }
        let release = ReleaseInfo(
            origin: configuration.origin, label: configuration.label, distribution: name,
            description: distribution.description, architectures: configuration.architectures,
            components: configuration.components, validFor: distribution.validFor)
        let now = Int(Date().timeIntervalSince1970)
        let published: PublishedObjects
        do {
            published = try storage.publish(
                try publisher.render(release, indices: snapshot.indices, date: now, precompressed: precompressed),
                over: base)
        } catch {
            throw DepotError.publishing(error)
        }
        try write { db in
            try MetadataStore.markPublished(db, name, generation: snapshot.generation, signed: now)
            // What the new Release names is no longer garbage; what the old one named alone
            // is, from now on, kept for the grace period.
            try MetadataStore.recordPublished(db, named: published.named, superseded: published.superseded, now: now)
        }
        // Seen by `depot serve`'s /metrics for the publishes it makes; a no-op elsewhere.
        CoreMetrics.Timer(label: "depot_publish_duration_seconds", dimensions: [("distribution", name)])
            .recordNanoseconds(Int64((ContinuousClock.now - started) / .nanoseconds(1)))
    }

    /// The `Packages` indices of a distribution as the store has them: per component and
    /// architecture, `all` packages included, sorted by name, version and architecture.
    func indices(_ db: any StoreTransaction, for distribution: Configuration.Distribution) throws -> [PackagesIndex] {
        try indices { component, architecture in
            try MetadataStore.stanzas(
                db, distribution: distribution.name, component: component, architecture: architecture)
        }
    }

    /// One index per component and architecture, of the rows `rows` gives for it.
    func indices(_ rows: (_ component: String, _ architecture: String) throws -> [IndexRow]) rethrows
        -> [PackagesIndex]
    {
        var indices: [PackagesIndex] = []
        for component in configuration.components {
            for architecture in configuration.architectures {
                // Versions are parsed only to order the rare names listed more than once.
                let sorted = try rows(component, architecture).sorted { a, b in
                    if a.name != b.name { return a.name < b.name }
                    if a.version != b.version, let left = try? DebianVersion(a.version),
                        let right = try? DebianVersion(b.version), left != right
                    {
                        return left < right
                    }
                    return a.architecture < b.architecture
                }
                indices.append(
                    PackagesIndex(
                        component: component, architecture: architecture,
                        entries: sorted.map { .init(package: $0.name, stanza: $0.stanza) }))
            }
        }
        return indices
    }
}
