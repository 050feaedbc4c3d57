#include "core/chain.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>

#include <openssl/evp.h>
#include "core/db.hpp"

namespace pmdb::chain {

void row_bytes::word(std::uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xff);
  buf_.append(b, 8);
}

void row_bytes::null() { buf_ += '\x00'; }

void row_bytes::integer(std::int64_t v) {
  buf_ += '\x01';
  word(static_cast<std::uint64_t>(v));
}

void row_bytes::real(double v) {
  buf_ += '\x02';
  word(std::bit_cast<std::uint64_t>(v));
}

void row_bytes::text(std::string_view s) {
  buf_ += '\x03';
  word(s.size());
  buf_.append(s);
}

void row_bytes::column(const db::statement& st, int i) {
  switch (st.type(i)) {
    case db::storage::null: null(); return;
    case db::storage::integer: integer(st.int64(i)); return;
    case db::storage::real: real(st.real(i)); return;
    case db::storage::text: text(st.text(i)); return;
    case db::storage::blob: {
      const std::string_view b = st.text(i);
      buf_ += '\x04';
      word(b.size());
      buf_.append(b);
      return;
    }
  }
}

digest genesis() { return {}; }

digest link(const digest& prev, std::string_view row) {
  digest out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, prev.data(), prev.size()) == 1 &&
                  EVP_DigestUpdate(ctx, row.data(), row.size()) == 1 && EVP_DigestFinal_ex(ctx, out.data(), &n) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || n != out.size()) throw std::runtime_error("SHA-256 failed (OpenSSL)");
  return out;
}

std::string hex(const digest& d) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char c : d) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<digest> from_blob(const void* p, int size) {
  if (size != 32 || !p) return std::nullopt;
  digest d;
  std::memcpy(d.data(), p, 32);
  return d;
}

}  // namespace pmdb::chain
