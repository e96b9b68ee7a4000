// spm.cc — the C API of spm.h over SentencePiece's C++ API. Each entry
// point catches every exception (std::bad_alloc above all) and turns it and
// every failed util::Status into a crate status with its message, so C code
// never sees C++ unwinding. Training goes through the map overload of
// SentencePieceTrainer::Train and returns the serialized model in memory: no
// model files are written unless the caller saves the bytes.
#include "data/spm.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

extern "C" {
#include "data/spm_charsmap.h"
#include "src/error.h"
}

struct spm_model {
    sentencepiece::SentencePieceProcessor sp;
};

namespace {

int fail_status(const sentencepiece::util::Status &s, const char *what) {
    return crate_fail(CRATE_EINPUT, "sentencepiece: %s: %s", what, s.ToString().c_str());
}

// Runs f, mapping any exception to CRATE_EINTERNAL with the message set.
template <typename F> int guarded(const char *what, F f) {
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return crate_fail(CRATE_EINTERNAL, "sentencepiece: %s: out of memory", what);
    } catch (const std::exception &e) {
        return crate_fail(CRATE_EINTERNAL, "sentencepiece: %s: %s", what, e.what());
    } catch (...) {
        return crate_fail(CRATE_EINTERNAL, "sentencepiece: %s: unknown C++ exception", what);
    }
}

// The C callback as SentencePiece's sentence iterator. A callback failure
// ends the iteration with an error status carrying crate's message.
class callback_iterator : public sentencepiece::SentenceIterator {
  public:
    callback_iterator(spm_next_fn next, void *ctx) : next_(next), ctx_(ctx) { Next(); }
    bool done() const override { return done_; }
    void Next() override {
        const char *text = nullptr;
        size_t len = 0;
        int r = next_(ctx_, &text, &len);
        if (r == 1) {
            value_.assign(text, len);
            return;
        }
        done_ = true;
        if (r != 0)
            status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kInternal, crate_errmsg());
    }
    const std::string &value() const override { return value_; }
    sentencepiece::util::Status status() const override { return status_; }

  private:
    spm_next_fn next_;
    void *ctx_;
    bool done_ = false;
    std::string value_;
    sentencepiece::util::Status status_;
};

std::unordered_map<std::string, std::string> train_args(const spm_train_options *o) {
    std::unordered_map<std::string, std::string> a = {
        {"model_type", o->type == SPM_BPE ? "bpe" : "unigram"},
        {"vocab_size", std::to_string(o->vocab_size)},
        {"character_coverage", std::to_string(o->character_coverage)},
        {"byte_fallback", o->byte_fallback ? "true" : "false"},
        {"pad_id", std::to_string(o->pad_id)},
        {"unk_id", std::to_string(o->unk_id)},
        {"bos_id", std::to_string(o->bos_id)},
        {"eos_id", std::to_string(o->eos_id)},
        {"num_threads", "1"},      // deterministic
        {"minloglevel", "2"},      // no progress chatter on stderr
        {"hard_vocab_limit", o->hard_vocab_limit ? "true" : "false"},
        {"model_prefix", ""},
    };
    if (o->mask_piece && *o->mask_piece) a["user_defined_symbols"] = o->mask_piece;
    if (o->max_sentences > 0) {
        a["input_sentence_size"] = std::to_string(o->max_sentences);
        a["shuffle_input_sentence"] = "true";
    }
    return a;
}

int check_options(const spm_train_options *o) {
    if (o->vocab_size < 8)
        return crate_fail(CRATE_EINPUT, "sentencepiece: vocab size %d is too small (at least 8)", o->vocab_size);
    if (o->unk_id < 0)
        return crate_fail(CRATE_EINPUT, "sentencepiece: the model needs an unk id");
    if (!(o->character_coverage > 0 && o->character_coverage <= 1))
        return crate_fail(CRATE_EINPUT, "sentencepiece: character coverage %g is outside (0, 1]",
                          o->character_coverage);
    return CRATE_OK;
}

int train(spm_model **out, std::unordered_map<std::string, std::string> args,
          sentencepiece::SentenceIterator *it) {
    std::string proto;
    auto st = sentencepiece::SentencePieceTrainer::Train(args, it, &proto);
    if (!st.ok()) return fail_status(st, "training");
    return spm_load_bytes(out, proto.data(), proto.size());
}

template <typename T> T *copy_out(const std::vector<T> &v, size_t extra, const char *what) {
    T *p = static_cast<T *>(std::malloc((v.size() + extra) * sizeof(T) + 1));
    if (!p) crate_fail(CRATE_EINTERNAL, "out of memory for %s", what);
    else if (!v.empty()) std::memcpy(p, v.data(), v.size() * sizeof(T));
    return p;
}

// A new model from load(sp), into *out. A model's bytes are untrusted (they
// travel in token datasets and checkpoints): the library reports most damage
// as a failed status, but some only as an exception from deep inside (a
// piece its trie cannot hold: "failed to insert key: zero-length key"). Both
// are bad input, and the half-built model is freed either way; only running
// out of memory stays an internal failure (guarded).
template <typename L> int load_model(spm_model **out, const char *what, L load) {
    std::unique_ptr<spm_model> m(new spm_model);
    sentencepiece::util::Status st;
    try {
        st = load(m->sp);
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const std::exception &e) {
        return crate_fail(CRATE_EINPUT, "sentencepiece: cannot load %s: it is damaged or not a SentencePiece "
                          "model (%s)", what, e.what());
    }
    if (!st.ok())
        return crate_fail(CRATE_EINPUT, "sentencepiece: cannot load %s: %s", what, st.ToString().c_str());
    *out = m.release();
    return CRATE_OK;
}

}  // namespace

extern "C" {

spm_train_options spm_train_options_default(int vocab_size) {
    return spm_train_options{SPM_UNIGRAM, vocab_size, 1.0, 0, 0, 1, 2, 3, "[MASK]", 0, 1};
}

int spm_train_files(spm_model **out, const char *const *files, int nfiles, const spm_train_options *opt) {
    *out = nullptr;
    return guarded("training", [&]() -> int {
        int rc = check_options(opt);
        if (rc != CRATE_OK) return rc;
        if (nfiles < 1) return crate_fail(CRATE_EINPUT, "sentencepiece: no input files to train on");
        auto args = train_args(opt);
        std::string input;
        for (int i = 0; i < nfiles; i++) {
            if (std::strchr(files[i], ','))
                return crate_fail(CRATE_EINPUT, "sentencepiece: input file '%s' has a comma in its name, which "
                                  "SentencePiece's input list cannot hold: rename or link it", files[i]);
            input += (i ? "," : "") + std::string(files[i]);
        }
        args["input"] = input;
        return train(out, args, nullptr);
    });
}

int spm_train_iter(spm_model **out, spm_next_fn next, void *ctx, const spm_train_options *opt) {
    *out = nullptr;
    return guarded("training", [&]() -> int {
        int rc = check_options(opt);
        if (rc != CRATE_OK) return rc;
        callback_iterator it(next, ctx);
        return train(out, train_args(opt), &it);
    });
}

int spm_load_file(spm_model **out, const char *path) {
    *out = nullptr;
    return guarded("loading", [&]() -> int {
        std::ifstream f(path, std::ios::binary); // an unreadable file: Load below says so
        std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (f && spm_check_charsmaps(bytes.data(), bytes.size()) != CRATE_OK)
            return crate_fail_context(CRATE_EINPUT, "%s", path);
        std::string what = std::string("the model '") + path + "'";
        return load_model(out, what.c_str(), [&](sentencepiece::SentencePieceProcessor &sp) { return sp.Load(path); });
    });
}

int spm_load_bytes(spm_model **out, const void *bytes, size_t len) {
    *out = nullptr;
    int rc = spm_check_charsmaps(bytes, len);
    if (rc != CRATE_OK) return rc;
    return guarded("loading", [&]() -> int {
        return load_model(out, "a model from bytes", [&](sentencepiece::SentencePieceProcessor &sp) {
            return sp.LoadFromSerializedProto(std::string_view(static_cast<const char *>(bytes), len));
        });
    });
}

int spm_serialize(const spm_model *m, char **bytes, size_t *len) {
    *bytes = nullptr;
    *len = 0;
    return guarded("serializing", [&]() -> int {
        std::string s = m->sp.serialized_model_proto();
        char *p = static_cast<char *>(std::malloc(s.size() + 1));
        if (!p) return crate_fail(CRATE_EINTERNAL, "out of memory for a serialized model");
        std::memcpy(p, s.data(), s.size());
        *bytes = p;
        *len = s.size();
        return CRATE_OK;
    });
}

int spm_encode(const spm_model *m, const char *text, size_t len, int32_t **ids, size_t *n) {
    *ids = nullptr;
    *n = 0;
    return guarded("encoding", [&]() -> int {
        std::vector<int> v;
        auto st = m->sp.Encode(std::string_view(text, len), &v);
        if (!st.ok()) return fail_status(st, "encoding");
        std::vector<int32_t> w(v.begin(), v.end());
        if (!(*ids = copy_out(w, 0, "token ids"))) return CRATE_EINTERNAL;
        *n = w.size();
        return CRATE_OK;
    });
}

int spm_decode(const spm_model *m, const int32_t *ids, size_t n, char **text, size_t *len) {
    *text = nullptr;
    *len = 0;
    return guarded("decoding", [&]() -> int {
        int vocab = m->sp.GetPieceSize();
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= vocab)
                return crate_fail(CRATE_EINPUT, "sentencepiece: id %d at position %zu is outside the vocabulary "
                                  "of %d", ids[i], i, vocab);
        std::string s;
        auto st = m->sp.Decode(std::vector<int>(ids, ids + n), &s);
        if (!st.ok()) return fail_status(st, "decoding");
        std::vector<char> v(s.begin(), s.end());
        char *p = copy_out(v, 1, "decoded text");
        if (!p) return CRATE_EINTERNAL;
        p[v.size()] = 0;
        *text = p;
        *len = v.size();
        return CRATE_OK;
    });
}

int spm_vocab_size(const spm_model *m) { return m->sp.GetPieceSize(); }

int spm_piece_to_id(const spm_model *m, const char *piece) {
    try {
        int id = m->sp.PieceToId(piece);
        // PieceToId answers unk for an unknown piece; only unk itself maps there.
        return id == m->sp.unk_id() && m->sp.IdToPiece(id) != piece ? -1 : id;
    } catch (...) {
        return -1;
    }
}

const char *spm_id_to_piece(const spm_model *m, int id) {
    if (id < 0 || id >= m->sp.GetPieceSize()) return nullptr;
    return m->sp.IdToPiece(id).c_str();
}

int spm_unk_id(const spm_model *m) { return m->sp.unk_id(); }
int spm_bos_id(const spm_model *m) { return m->sp.bos_id(); }
int spm_eos_id(const spm_model *m) { return m->sp.eos_id(); }
int spm_pad_id(const spm_model *m) { return m->sp.pad_id(); }

void spm_free(spm_model *m) { delete m; }

}  // extern "C"
