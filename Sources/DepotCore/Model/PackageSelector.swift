import DebianFormat
import Foundation
/// `NAME` or `NAME=VERSION`, as the command line and the API name packages.
public struct PackageSelector: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var version: DebianVersion?

    public init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let parsed = Result { () throws(InvalidFieldValue) -> DebianVersion? in
            try PackageName.validate(parts[0])
            return parts.count == 2 ? try DebianVersion(parts[1]) : nil
        }
        switch parsed {
        case .success(let version): self.version = version
        case .failure(let error): throw DepotError.invalidSelector(text, reason: error.description)
        }
        name = parts[0]
    }

    public var description: String { version.map { "\(name)=\($0)" } ?? name }

    func matches(_ file: PackageFile) -> Bool {
        file.name == name && (version.map { file.debianVersion == $0 } ?? true)
    }
}
