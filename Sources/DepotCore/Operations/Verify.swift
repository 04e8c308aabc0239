import AptRepository
import DebianFormat
import Foundation

extension Repository {
    /// Checks pool files against their recorded checksums, each distribution's signatures
    /// against the key, its index files against `Release`, and the indices against the store.
    /// In a bucket, pool objects are checked by their size, and with `deep` by their bytes
    /// (on a local disk their bytes are always read).
    public func verify(deep: Bool = false) throws -> VerifyReport {
        var report = VerifyReport(problems: [], notes: [], poolFilesChecked: 0, indicesChecked: 0)
        let (files, unpublished) = try read { db in
            (
                try MetadataStore.filesWithStanzas(db),
                Set(try MetadataStore.unpublished(db))
            )
        }
        for (file, stanza) in files where !Self.stanzaDescribes(file, stanza) {
            report.problems.append(
                "\(storage.location(of: file.poolPath)): its stanza in the metadata store does not read back as one "
                    + "stanza naming this file (apt would read it into its neighbours); unlist it with 'depot remove' "
                    + "wherever it is listed, and push a rebuilt package")
        }
        report.problems += storage.checkPoolFiles(files.map(\.file), deep: deep)
        report.poolFilesChecked = files.count

        // Without the signing key nothing can be signed, nor the signatures checked: that is
        // the one problem to report about them.
        let keyAvailable: Bool
        do {
            try signer.prepare()
            keyAvailable = true
        } catch {
            report.problems.append("\(DepotError.signingKeyUnavailable(error, keyring: keyringDirectory))")
            keyAvailable = false
        }
        let keyPath = "archive-key.asc"
        if keyAvailable,
            (try? storage.contents(of: keyPath)).flatMap({ $0 }).map({ String(decoding: $0, as: UTF8.self) })
                != (try? exportKey())
        {
            report.problems.append("\(storage.location(of: keyPath)): missing or not the repository's signing key")
        }

        for distribution in try distributions() {
            if unpublished.contains(distribution.name) {
                report.notes.append(
                    "\(distribution.name): has changes not yet published; run 'depot publish \(distribution.name)'")
            }
            // Not damage, and not always a mistake (a remove or rollback may leave it), but what
            // apt-get will refuse to install.
            report.notes += try unmetDependencies(in: distribution.name).map(\.unmetNowDescription)
            let expected =
                unpublished.contains(distribution.name)
                ? nil : try read { db in try self.indices(db, for: distribution) }
            report.indicesChecked += verifyPublished(
                distribution.name, expected: expected, checkingSignatures: keyAvailable, problems: &report.problems)
        }
        return report
    }

    /// Whether a stored index stanza parses as exactly one paragraph that names `file`, with
    /// its size and checksum.
    static func stanzaDescribes(_ file: PackageFile, _ stanza: String) -> Bool {
        guard let document = try? Deb822Document(parsing: stanza), document.paragraphs.count == 1 else { return false }
        let paragraph = document.paragraphs[0]
        return paragraph["Filename"] == file.poolPath && paragraph["Size"] == String(file.checksums.size)
            && paragraph["SHA256"] == file.checksums.sha256
    }

    /// Checks one distribution's live tree; returns how many indices it checked.
    private func verifyPublished(
        _ distribution: String, expected: [PackagesIndex]?, checkingSignatures: Bool, problems: inout [String]
    ) -> Int {
        let directory = storage.location(of: "dists/" + distribution)
        var unreadable: String?
        func contents(_ name: String) -> [UInt8]? {
            do {
                return try storage.contents(of: "dists/\(distribution)/\(name)")
            } catch {
                unreadable = unreadable ?? "\(error)"
                return nil
            }
        }
        defer { if let unreadable { problems.append(unreadable) } }
        guard let inRelease = contents("InRelease"), let release = contents("Release"),
            let detached = contents("Release.gpg")
        else {
            problems.append(
                "\(directory): InRelease, Release or Release.gpg is missing; run 'depot publish \(distribution)'")
            return 0
        }
        if checkingSignatures {
            do {
                let signed = try signer.verifyClearsigned(inRelease)
                if signed != release {
                    problems.append("\(directory)/InRelease: does not sign the same text as Release")
                }
            } catch {
                problems.append("\(directory)/InRelease: bad signature: \(error)")
            }
            do {
                try signer.verifyDetached(signature: detached, of: release)
            } catch {
                problems.append("\(directory)/Release.gpg: bad signature: \(error)")
            }
        }
        var checked = 0
        for entry in ReleaseFile.entries(of: String(decoding: release, as: UTF8.self)) where entry.algorithm == .sha256
        {
            let path = directory + "/" + entry.path
            guard let bytes = contents(entry.path) else {
                problems.append("\(path): missing, but Release lists it")
                continue
            }
            let checksums = Checksums(of: bytes)
            if checksums.size != entry.size || checksums.sha256 != entry.hash {
                problems.append(
                    "\(path): does not match Release (SHA256 \(checksums.sha256), Release says \(entry.hash))")
            }
            let folder = (entry.path as NSString).deletingLastPathComponent
            if contents("\(folder)/by-hash/SHA256/\(entry.hash)") == nil {
                problems.append("\(directory)/\(folder)/by-hash/SHA256/\(entry.hash): missing, but Release lists it")
            }
            checked += 1
        }
        for index in expected ?? [] {
            let path = "\(index.directory)/Packages"
            if let published = contents(path), published != index.renderedText() {
                problems.append(
                    "\(directory)/\(path): differs from what the metadata store lists; run 'depot publish \(distribution)'"
                )
            }
        }
        return checked
    }
}
