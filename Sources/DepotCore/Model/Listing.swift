import DebianFormat
import Foundation

/// A package file listed in a distribution.
public struct Listing: Sendable, Hashable, Codable {
    public var distribution: String
    public var component: String
    public var file: PackageFile
    /// The `Phased-Update-Percentage` this distribution's `Packages` gives the file; nil when
    /// it is fully rolled out.
    public var phase: Int?
}
