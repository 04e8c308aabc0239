import DebianFormat
import Foundation

/// The store's queries, written once for every store: each takes the transaction it runs in.
///
/// One file of queries per table (`FileQueries`, `ListingQueries`, `JournalQueries`, ...);
/// rows are read by column name, next to the column list that names them.
enum MetadataStore {
    /// A value as JSON text: an array of names or ids bound to one `?` for `json_each`
    /// however many it holds, or a column the store keeps as JSON.
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }
}
