module libbitnet/bitnet

go 1.19
