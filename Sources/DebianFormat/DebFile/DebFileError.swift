/// Why a file is not a usable binary package; `description` names the file first.
public struct DebFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Error, Sendable, Hashable {
        case unreadable(String)
        case notARegularFile
        case empty
        case notAnArArchive
        case malformedArHeader(offset: Int64, detail: String)
        case truncated(member: String, expected: Int64, found: Int64)
        case notADebianPackage(firstMember: String)
        case unsupportedFormatVersion(String)
        case missingControlArchive(found: String?)
        case missingDataArchive(found: String?)
        case unknownCompression(member: String)
        case compressionMismatch(member: String, detected: String)
        case controlArchiveTooLarge(member: String, size: Int64, limit: Int)
        case controlArchiveUnreadable(member: String, detail: String)
        case controlArchiveExpandsTooMuch(member: String, limit: Int)
        case missingControlFile(member: String)
        case controlFileTooLarge(limit: Int)
        case controlSyntax(Deb822Error)
        case controlParagraphCount(Int)
        case missingField(String)
        case invalidValue(InvalidFieldValue)
        case unrepresentableField(UnrepresentableField)
    }

    public var file: String
    public var problem: Problem

    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String {
        "\(file): " + problemDescription
    }

    private var problemDescription: String {
        switch problem {
        case .unreadable(let reason):
            "cannot read the file: \(reason)"
        case .notARegularFile:
            "not a regular file"
        case .empty:
            "the file is empty, not a Debian package"
        case .notAnArArchive:
            "not a Debian package: it does not start with the ar archive signature '!<arch>'"
        case .malformedArHeader(let offset, let detail):
            "malformed ar member header at byte \(offset): \(detail)"
        case .truncated(let member, let expected, let found):
            "the file is truncated: member '\(member)' should hold \(expected) bytes but only \(found) remain"
        case .notADebianPackage(let first):
            "not a Debian package: the first ar member is '\(first)', expected 'debian-binary'"
        case .unsupportedFormatVersion(let version):
            "unsupported package format version '\(version)' in debian-binary (expected 2.0)"
        case .missingControlArchive(let found):
            "no control.tar member" + (found.map { " (found '\($0)' where it should be)" } ?? "")
        case .missingDataArchive(let found):
            "no data.tar member" + (found.map { " (found '\($0)' where it should be)" } ?? "")
        case .unknownCompression(let member):
            member.hasPrefix("control.tar")
                ? "member '\(member)' uses a compression dpkg does not read there (control.tar may be uncompressed, .gz, .xz or .zst)"
                : "member '\(member)' uses an unknown compression (data.tar may be uncompressed, .gz, .xz, .zst, .bz2 or .lzma)"
        case .compressionMismatch(let member, let detected):
            "member '\(member)' is not compressed as its name says (its content is \(detected))"
        case .controlArchiveTooLarge(let member, let size, let limit):
            "member '\(member)' is \(size) bytes, more than the limit of \(limit) bytes for a control archive"
        case .controlArchiveUnreadable(let member, let detail):
            "member '\(member)' is not a readable tar archive: \(detail)"
        case .controlArchiveExpandsTooMuch(let member, let limit):
            "member '\(member)' expands to more than \(limit) bytes: refusing it as a likely decompression bomb"
        case .missingControlFile(let member):
            "member '\(member)' holds no 'control' file"
        case .controlFileTooLarge(let limit):
            "the 'control' file is larger than \(limit) bytes"
        case .controlSyntax(let error):
            "control file, \(error)"
        case .controlParagraphCount(let count):
            count == 0 ? "the control file is empty" : "the control file holds \(count) paragraphs, expected one"
        case .missingField(let name):
            "the control file has no '\(name)' field"
        case .invalidValue(let error):
            "control file: \(error)"
        case .unrepresentableField(let error):
            "control file: \(error)"
        }
    }
}
