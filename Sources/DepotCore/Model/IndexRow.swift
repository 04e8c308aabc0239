import DebianFormat
import Foundation

/// A listed file as a `Packages` index shows it.
struct IndexRow: Sendable {
    var name: String
    var version: String
    var architecture: String
    var stanza: String

    /// The stored stanza, with the distribution's phase of the file (which differs between
    /// distributions listing the same file) as the last field.
    init(name: String, version: String, architecture: String, stanza: String, phase: Int?) {
        self.name = name
        self.version = version
        self.architecture = architecture
        self.stanza = phase.map { stanza + "Phased-Update-Percentage: \($0)\n" } ?? stanza
    }
}
