import Foundation

extension Repository {
    public struct GarbageCollectionReport: Sendable, Codable {
        /// Distributions made from templates that had not changed for their `Expires-After`:
        /// unlisted and taken out of the served tree (their history stays).
        public var expired: [String]
        /// Pool files no distribution lists and no retained history entry can restore.
        public var unreferenced: [String]
        /// Pool files the store does not know: left by a push that was killed before it
        /// committed.
        public var orphaned: [String]
        /// Index files of the bucket (`by-hash/`) no distribution's `Release` names any more.
        public var superseded: [String]
        /// Files of the tree nothing references, kept until their grace period (`GC-Grace`)
        /// has passed: clients and caches may still fetch them. A later gc deletes them.
        public var kept: [String]
        /// Files in `.depot/incoming/` of pushes that are no longer running.
        public var incoming: [String]
        /// Compressed index chunks in `.depot/cache/` that no published index is made of.
        public var cachedChunks: Int
        /// The bytes of those chunks (counted in `bytes` too).
        public var cachedChunkBytes: Int64
        /// The bytes all of them take.
        public var bytes: Int64
        public var dryRun: Bool
    }
}
