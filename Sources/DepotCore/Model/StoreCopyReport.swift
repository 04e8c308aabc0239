import Foundation

extension Repository {
    /// How many rows of each table a store copy wrote, in the order it wrote them.
    public struct StoreCopyReport: Sendable, Codable {
        public struct Table: Sendable, Codable {
            public var table: String
            public var rows: Int
        }
        public var destination: String
        public var tables: [Table]
    }
}
