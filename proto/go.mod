module healthprep.dev/proto

go 1.26
