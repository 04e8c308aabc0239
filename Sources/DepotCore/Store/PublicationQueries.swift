import DebianFormat
import Foundation

/// `publication`: each distribution's generations, recorded and published.
extension MetadataStore {
    /// Records that `distribution` changed: its next generation waits to be published.
    static func markUnpublished(_ db: any StoreTransaction, _ distribution: String) throws {
        try db.execute(
            """
            INSERT INTO publication (distribution, recorded, published) VALUES (?, 1, 0)
            ON CONFLICT (distribution) DO UPDATE SET recorded = publication.recorded + 1
            """, [distribution])
    }

    /// The distributions with changes their served tree does not show yet.
    static func unpublished(_ db: any StoreTransaction) throws -> [String] {
        try db.texts("SELECT distribution FROM publication WHERE recorded > published ORDER BY distribution")
    }

    /// The generation of `distribution` the store holds, when it is not published yet.
    static func unpublishedGeneration(_ db: any StoreTransaction, _ distribution: String) throws -> Int64? {
        try db.value(
            "SELECT recorded FROM publication WHERE distribution = ? AND recorded > published", [distribution])
    }

    /// Records that the tree shows generation `generation` of `distribution`, signed at
    /// `signed` (seconds since the epoch); never lowers it.
    static func markPublished(_ db: any StoreTransaction, _ distribution: String, generation: Int64, signed: Int)
        throws
    {
        try db.execute(
            "UPDATE publication SET published = ?, signed_at = ? WHERE distribution = ? AND published < ?",
            [generation, signed, distribution, generation])
    }

    /// When each distribution's served `Release` was signed (seconds since the epoch); nil
    /// for one published before Depot recorded it.
    static func signingTimes(_ db: any StoreTransaction) throws -> [String: Int64?] {
        Dictionary(
            try db.rows("SELECT distribution, signed_at FROM publication").map {
                ($0["distribution"] as String, $0["signed_at"] as Int64?)
            },
            uniquingKeysWith: { first, _ in first })
    }
}

extension MetadataStore {
    /// Each distribution's generations and signing time, for the metrics: one small table.
    static func generations(_ db: any StoreTransaction) throws
        -> [String: (recorded: Int64, published: Int64, signedAt: Int64?)]
    {
        Dictionary(
            try db.rows("SELECT distribution, recorded, published, signed_at FROM publication").map {
                ($0["distribution"] as String, ($0["recorded"] as Int64, $0["published"] as Int64, $0["signed_at"] as Int64?))
            },
            uniquingKeysWith: { first, _ in first })
    }
}

extension MetadataStore {
    /// Records that nothing of `distribution` waits to be published (it expired).
    static func markUpToDate(_ db: any StoreTransaction, _ distribution: String) throws {
        try db.execute("UPDATE publication SET published = recorded WHERE distribution = ?", [distribution])
    }
}
