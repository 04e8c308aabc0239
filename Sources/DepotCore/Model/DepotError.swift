import AptRepository
import DebianFormat
import Foundation

/// What can go wrong in a Depot operation; each reads as one sentence for the user, naming
/// the file or package, and where it helps, what to do next.
public enum DepotError: Error, Sendable, CustomStringConvertible {
    case notARepository(root: String)
    case alreadyInitialized(root: String)
    case configuration(path: String, ConfigurationError)
    case unknownDistribution(String, known: [String])
    case unknownComponent(String, known: [String])
    case architectureNotCarried(file: String, architecture: String, distribution: String, carried: [String])
    case invalidPackage(DebFileError)
    case conflict(
        file: String, package: String, version: String, architecture: String, existingSHA256: String, newSHA256: String,
        existingPath: String, listedIn: [String])
    case poolPathTaken(
        file: String, package: String, version: String, architecture: String, existingVersion: String,
        poolPath: String, listedIn: [String])
    case downgrade(file: String, package: String, version: String, newest: String, distribution: String)
    case notListed(distribution: String, package: String, version: String?)
    case unknownPackage(String)
    /// A promotion's (or a push's) gates are closed: one line per gate and package version.
    case gatesClosed([String], refused: String = "promotion")
    case unmetDependencies([UnmetDependency], source: String, canPromoteAlong: Bool)
    case invalidSelector(String, reason: String)
    case tooLarge(name: String, limit: Int)
    case invalidArgument(String)
    /// The pusher of a file approving it (four eyes).
    case selfApproval(user: String, package: String, version: String, distribution: String)
    case alreadyApproved(user: String, file: String, distribution: String)
    /// A token of this name exists, or existed (`revokedAt`): names are never reused.
    case tokenNameTaken(String, revokedAt: String?)
    case unknownToken(String)
    case unknownHistoryEntry(Int64, distribution: String)
    /// No recorded change of the package in the distribution to roll back.
    case nothingToRollBack(package: String, distribution: String)
    /// A history entry recorded before Depot kept listing journals.
    case historyNotUndoable(entry: Int64, distribution: String)
    /// A rollback would restore a file gc has deleted.
    case fileCollected(file: String, distribution: String, historyID: Int64)
    case storage(String)
    case storeMissing(path: String)
    /// depot.conf differs from the configuration the shared store records, in these fields.
    case configurationDiffers(path: String, store: String, differences: [String])
    /// A request to the bucket of `Storage:` failed; the text names the bucket and what to do.
    case objectStorage(String)
    /// The pool object a push needs holds a file removed less than `grace` seconds ago, which
    /// gc keeps for clients that may still fetch it.
    case poolObjectKept(location: String, grace: Int)
    case publishing(PublishError)
    /// A change (`operation`: "push", "promotion" ...) was recorded, but publishing it failed:
    /// the next change (or `depot publish`) publishes it. `outcomes` says what a push recorded.
    indirect case recordedButUnpublished(DepotError, operation: String, outcomes: [Repository.PushOutcome] = [])
    /// Publishing what earlier changes recorded failed, so a new change was not made.
    case earlierChangesUnpublished(PublishError)
    case signing(SigningError)
    case signingKeyUnavailable(SigningError, keyring: String)
    case file(FileError)
    case verificationFailed([String])
    /// Whoever asked for the change went away before it could be made; it was not made.
    case cancelled
    /// Another writer held the repository for all of `waited` seconds (when known).
    case lockTimeout(holder: String, waited: Double?)

    public var description: String {
        switch self {
        case .notARepository(let root):
            return "\(root): not a Depot repository (no depot.conf); run 'depot init' there or pass --root DIR"
        case .alreadyInitialized(let root):
            return "\(root): already holds a repository (depot.conf exists)"
        case .configuration(let path, let error):
            return "\(path):\(error.line): \(error.problem)"
        case .configurationDiffers(let path, let store, let differences):
            return "\(path) differs from the configuration recorded in \(store) (\(differences.joined(separator: "; "))); "
                + "nothing was changed: give every node the same depot.conf, or record this one for all with "
                + "'depot store record-configuration'"
        case .unknownDistribution(let name, let known):
            return "unknown distribution '\(name)' (depot.conf defines: \(known.joined(separator: ", ")))"
        case .unknownComponent(let name, let known):
            return "unknown component '\(name)' (depot.conf defines: \(known.joined(separator: ", ")))"
        case .architectureNotCarried(let file, let architecture, let distribution, let carried):
            return "\(file): architecture '\(architecture)' is not carried by \(distribution) "
                + "(Architectures: \(carried.joined(separator: " "))); add it to depot.conf or push another build"
        case .invalidPackage(let error):
            return error.description
        case .conflict(
            let file, let package, let version, let architecture, let existing, let new, let path, let listedIn):
            let listed = listedIn.isEmpty ? "listed nowhere" : "listed in \(listedIn.joined(separator: ", "))"
            return
                "\(file): conflict: \(package) \(version) (\(architecture)) is already in the pool with different content "
                + "(pool SHA256 \(existing) at \(path), \(listed); this file's SHA256 \(new)); build it with a new version"
        case .poolPathTaken(
            let file, let package, let version, let architecture, let existing, let poolPath, let listedIn):
            let listed = listedIn.isEmpty ? "listed nowhere" : "listed in \(listedIn.joined(separator: ", "))"
            return "\(file): conflict: \(package) \(version) (\(architecture)) would be stored at \(poolPath), "
                + "which already holds \(package) \(existing) (\(listed)): versions that differ only in their epoch "
                + "share a file name in the pool; build it with a new upstream version or revision"
        case .downgrade(let file, let package, let version, let newest, let distribution):
            return "\(file): \(package) \(version) is lower than \(newest) listed in \(distribution); "
                + "pass --allow-downgrade to make it the candidate"
        case .notListed(let distribution, let package, let version):
            return "\(distribution) does not list \(package)\(version.map { " version \($0)" } ?? "")"
        case .gatesClosed(let details, let refused):
            return "\(refused) refused by its gates: " + details.joined(separator: "; and ")
                + " (or pass --override-gates, which history records)"
        case .unknownPackage(let name):
            return "no package '\(name)' in this repository"
        case .unmetDependencies(let unmet, let source, let canPromoteAlong):
            let hint =
                canPromoteAlong
                ? "promote what it needs too, or pass --with-deps to take it from \(source)"
                : "\(source) cannot satisfy it either: push or promote what it needs first"
            return "promotion refused: " + unmet.map(\.description).joined(separator: "; ") + "; " + hint
        case .tooLarge(let name, let limit):
            return "\(name): larger than the limit of \(limit) bytes (depot serve --max-upload-size)"
        case .invalidSelector(let text, let reason):
            return "invalid package '\(text)': \(reason) (expected NAME or NAME=VERSION)"
        case .invalidArgument(let text):
            return text
        case .selfApproval(let user, let package, let version, let distribution):
            return "\(user) pushed \(package) \(version) and cannot approve it (four eyes): "
                + "another user must approve it for \(distribution)"
        case .alreadyApproved(let user, let file, let distribution):
            return "\(user) has already approved \(file) for \(distribution)"
        case .tokenNameTaken(let name, nil):
            return "a token named '\(name)' exists: revoke it first ('depot token revoke \(name)') or pick another name"
        case .tokenNameTaken(let name, let revokedAt?):
            return "a token named '\(name)' was revoked at \(revokedAt), and a name is never given to another token "
                + "(history and approvals name users by it): pick a new one, such as '\(name)-2'"
        case .unknownToken(let name):
            return "no token named '\(name)' (see 'depot token list')"
        case .unknownHistoryEntry(let id, let distribution):
            return "no history entry \(id) (see 'depot history \(distribution)')"
        case .nothingToRollBack(let package, let distribution):
            return "no recorded change of \(package) in \(distribution) to roll back (see 'depot history \(distribution)')"
        case .historyNotUndoable(let entry, let distribution):
            return "history entry \(entry) of \(distribution) was recorded before Depot kept listing journals "
                + "and cannot be undone; roll back to \(entry) or later"
        case .fileCollected(let file, let distribution, let historyID):
            return "cannot restore \(file) in \(distribution): gc deleted it, as history entry \(historyID) is beyond "
                + "Retain-History"
        case .storage(let detail):
            return "metadata store: \(detail)"
        case .storeMissing(let path):
            return "\(path): the metadata store is missing; restore it from a backup "
                + "(the repository's packages and history are recorded there, not in public/)"
        case .objectStorage(let detail):
            return detail
        case .poolObjectKept(let location, let grace):
            return "\(location) holds a removed file of this name and version with other content, which clients may "
                + "still fetch for up to \(grace >= 3600 ? "\(grace / 3600) h" : "\(grace) s") after gc found it unreferenced (GC-Grace); "
                + "build it with a new version, or push it again after that time and 'depot gc'"
        case .publishing(let error):
            return error.description
        case .recordedButUnpublished(let error, let operation, _):
            return "\(error); the \(operation) is recorded but not yet published: fix that, then 'depot publish' "
                + "(or the next change) publishes it"
        case .earlierChangesUnpublished(let error):
            return "not changed: an earlier change is recorded but not yet published, and publishing it failed "
                + "(\(error)); fix that, then run 'depot publish' and this command again"
        case .signing(let error):
            return error.description
        case .signingKeyUnavailable(let error, let keyring):
            return "\(error); restore \(keyring) from a backup, or set Sign-With in depot.conf to a key it holds"
        case .file(let error) where error.code == EXDEV:
            return error.description
                + " (.depot/ and public/ must be on one file system: files are moved from one to the other)"
        case .file(let error):
            return error.description
        case .cancelled:
            return "not changed: the client went away while the change waited for the repository"
        case .lockTimeout(let holder, let waited):
            let time = waited.map { " for \(Int($0)) s" } ?? ""
            return "gave up waiting\(time) for the repository, which \(holder) holds; "
                + "if that process is stuck, stop it (a stopped change is undone, never half-done), "
                + "or wait longer with --wait SECONDS"
        case .verificationFailed(let problems):
            return "verification found \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n"
                + problems.map { "  " + $0 }.joined(separator: "\n")
        }
    }
}
