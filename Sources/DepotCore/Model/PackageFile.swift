import DebianFormat
import Foundation

/// A package file as the store records it: once, however many distributions list it.
public struct PackageFile: Sendable, Hashable, Codable {
    public var id: Int64
    public var name: String
    public var version: String
    public var architecture: String
    public var source: String
    public var poolPath: String
    public var checksums: Checksums

    public var debianVersion: DebianVersion { (try? DebianVersion(version)) ?? Self.fallbackVersion }
    private static let fallbackVersion = try! DebianVersion("0")
}
