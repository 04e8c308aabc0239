import DebianFormat
import Foundation
/// A `Depends` or `Pre-Depends` requirement that a promotion would leave unmet, or that a
/// distribution leaves unmet.
public struct UnmetDependency: Sendable, Hashable, Codable, CustomStringConvertible {
    public var package: String
    public var version: String
    public var architecture: String
    /// The requirement as the control file says it: `libsnow1 (>= 1.0) | libsnow-compat`.
    public var requirement: String
    public var distribution: String

    init(_ file: PackageFile, _ alternatives: [Relationship], architecture: String, in distribution: String) {
        package = file.name
        version = file.version
        self.architecture = architecture
        requirement = alternatives.map(\.description).joined(separator: " | ")
        self.distribution = distribution
    }

    /// As a promotion would leave it.
    public var description: String { sentence("would not satisfy") }

    /// As a distribution lists it now.
    public var unmetNowDescription: String { sentence("does not satisfy") }

    private func sentence(_ verb: String) -> String {
        "\(package) \(version) (\(architecture)) depends on '\(requirement)', which \(distribution) \(verb)"
    }
}
