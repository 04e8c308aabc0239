import CArchive
import CBZip2
import CGPGME
import CLZMA
import COpenSSLCrypto
import CZlib
import Testing

/// Each system library target must find its headers and link on a fresh machine.
@Suite struct LinkTests {
    @Test func everySystemLibraryLinksAndReportsItsVersion() {
        #expect(String(cString: archive_version_string()).hasPrefix("libarchive 3."))
        #expect(String(cString: BZ2_bzlibVersion()).hasPrefix("1."))
        #expect(gpgme_check_version(nil) != nil)
        #expect(String(cString: lzma_version_string()).hasPrefix("5."))
        #expect(String(cString: zlibVersion()).hasPrefix("1."))
        #expect(String(cString: OpenSSL_version(0)).hasPrefix("OpenSSL 3."))
    }
}
