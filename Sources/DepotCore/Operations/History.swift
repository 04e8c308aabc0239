import AptRepository
import DebianFormat
import Foundation

extension Repository {
    public func history(distribution: String? = nil, limit: Int? = nil) throws -> [HistoryEntry] {
        if let distribution { try requireDistribution(distribution, orExpired: true) }
        return try read { db in try MetadataStore.history(db, distribution: distribution, limit: limit) }
    }
}
