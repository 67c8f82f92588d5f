// simple.cpp: examples/simple.c in C++, with RAII wrappers over the C API.
//
//   simple_cpp MODEL [PROMPT] [N_PREDICT]
//
// Same output as simple.c: the text on stdout, "tokens: ..." on stderr.
// Build against an installed libbitnet:
//   c++ -std=c++17 simple.cpp -o simple_cpp $(pkg-config --cflags --libs bitnet)
#include <bitnet/bitnet.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace bn {

// A failed call, with the library's detail message.
struct error : std::runtime_error {
    bitnet_status status;
    error(const std::string &what, bitnet_status s)
        : std::runtime_error(what + ": " + bitnet_status_str(s) + " (" + bitnet_last_error() + ")"), status(s)
    {
    }
};

inline void check(bitnet_status s, const char *what)
{
    if (s != BITNET_OK)
        throw error(what, s);
}

// Deleters: each releases one handle; all accept NULL like the C API.
struct model_release {
    void operator()(bitnet_model *m) const noexcept { bitnet_model_release(m); }
};
struct context_free {
    void operator()(bitnet_context *c) const noexcept { bitnet_context_free(c); }
};
struct sampler_free {
    void operator()(bitnet_sampler *s) const noexcept { bitnet_sampler_free(s); }
};

// A model reference. Copies share the model (retain/release), so a model can
// be handed to several owners; the last one frees it.
class model {
  public:
    explicit model(const std::string &path, const bitnet_model_params *params = nullptr)
    {
        bitnet_model *m = nullptr;
        check(bitnet_model_load_file(path.c_str(), params, &m), "cannot load the model");
        handle_.reset(m);
    }
    model(const model &other) : handle_(other.handle_.get())
    {
        bitnet_model_retain(handle_.get());
    }
    model &operator=(const model &) = delete;
    model(model &&) noexcept = default;

    bitnet_model *get() const noexcept { return handle_.get(); }
    int32_t vocab_size() const noexcept { return bitnet_vocab_size(get()); }
    bool is_eog(bitnet_token t) const noexcept { return bitnet_token_is_eog(get(), t); }

    std::vector<bitnet_token> tokenize(const std::string &text, uint32_t flags = BITNET_TOKENIZE_ADD_SPECIAL) const
    {
        size_t n = 0;
        bitnet_status s = bitnet_tokenize(get(), text.data(), text.size(), flags, nullptr, 0, &n);
        if (s != BITNET_OK && s != BITNET_ERR_BUFFER_TOO_SMALL)
            throw error("cannot tokenize", s);
        std::vector<bitnet_token> tokens(n);
        check(bitnet_tokenize(get(), text.data(), text.size(), flags, tokens.data(), tokens.size(), &n),
              "cannot tokenize");
        tokens.resize(n);
        return tokens;
    }

    std::string piece(bitnet_token t) const
    {
        std::string s(16, '\0');
        size_t len = 0;
        bitnet_status st = bitnet_token_to_piece(get(), t, 0, &s[0], s.size(), &len);
        if (st == BITNET_ERR_BUFFER_TOO_SMALL) {
            s.resize(len);
            st = bitnet_token_to_piece(get(), t, 0, &s[0], s.size(), &len);
        }
        check(st, "cannot render a token");
        s.resize(len);
        return s;
    }

  private:
    std::unique_ptr<bitnet_model, model_release> handle_;
};

// A context keeps its own reference to the model: it may outlive `m`.
class context {
  public:
    explicit context(const model &m, const bitnet_context_params *params = nullptr)
    {
        bitnet_context_params p = params ? *params : bitnet_context_params_default();
        bitnet_context *c = nullptr;
        check(bitnet_context_new(m.get(), &p, &c), "cannot create a context");
        handle_.reset(c);
    }
    bitnet_context *get() const noexcept { return handle_.get(); }
    void decode(const bitnet_token *tokens, size_t n)
    {
        check(bitnet_context_decode(get(), tokens, static_cast<int32_t>(n)), "cannot decode");
    }
    // Borrowed: valid until the next decode/clear/trim.
    const float *logits() const noexcept { return bitnet_context_logits(get(), -1); }
    int32_t n_past() const noexcept { return bitnet_context_n_past(get()); }
    int32_t n_ctx() const noexcept { return bitnet_context_n_ctx(get()); }

  private:
    std::unique_ptr<bitnet_context, context_free> handle_;
};

class sampler {
  public:
    explicit sampler(const bitnet_sampler_params &p)
    {
        bitnet_sampler *s = nullptr;
        check(bitnet_sampler_new(&p, &s), "cannot create the sampler");
        handle_.reset(s);
    }
    bitnet_token sample(const float *logits, int32_t n_vocab)
    {
        bitnet_token t;
        check(bitnet_sampler_sample(handle_.get(), logits, n_vocab, &t), "cannot sample");
        return t;
    }
    void accept(bitnet_token t) { check(bitnet_sampler_accept(handle_.get(), t), "sampler"); }

  private:
    std::unique_ptr<bitnet_sampler, sampler_free> handle_;
};

} // namespace bn

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        std::fprintf(stderr, "usage: simple_cpp MODEL [PROMPT] [N_PREDICT]\n");
        return 2;
    }
    const std::string prompt = argc > 2 ? argv[2] : "In the beginning God created";
    long n_predict = 32;
    if (argc > 3) {
        char *end;
        n_predict = std::strtol(argv[3], &end, 10);
        if (*end || n_predict < 0 || n_predict > 4096) {
            std::fprintf(stderr, "simple_cpp: N_PREDICT must be 0..4096\n");
            return 2;
        }
    }
    try {
        bn::model model(argv[1]);
        bn::context ctx(model);
        std::vector<bitnet_token> tokens = model.tokenize(prompt);
        if (tokens.empty() || tokens.size() > static_cast<size_t>(ctx.n_ctx())) {
            std::fprintf(stderr, "simple_cpp: the prompt has %zu tokens; the context holds 1..%d\n", tokens.size(),
                         ctx.n_ctx());
            return 1;
        }
        ctx.decode(tokens.data(), tokens.size());

        bitnet_sampler_params sp = bitnet_sampler_params_default();
        sp.temperature = 0.0f; // greedy
        bn::sampler smp(sp);
        for (bitnet_token t : tokens)
            smp.accept(t);

        std::vector<bitnet_token> out;
        while (static_cast<long>(out.size()) < n_predict) {
            bitnet_token t = smp.sample(ctx.logits(), model.vocab_size());
            if (model.is_eog(t))
                break;
            smp.accept(t);
            out.push_back(t);
            const std::string piece = model.piece(t);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            if (static_cast<long>(out.size()) == n_predict || ctx.n_past() == ctx.n_ctx())
                break;
            ctx.decode(&t, 1);
        }
        std::putchar('\n');
        std::fputs("tokens:", stderr);
        for (bitnet_token t : out)
            std::fprintf(stderr, " %d", t);
        std::fputc('\n', stderr);
    } catch (const std::exception &e) { // bn::error, std::bad_alloc
        std::fprintf(stderr, "simple_cpp: %s\n", e.what());
        return 1;
    }
    return 0; // the destructors freed the sampler, the context and the model
}
