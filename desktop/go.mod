module healthprep.dev/desktop

go 1.26

require healthprep.dev/shared v0.0.0

replace healthprep.dev/shared => ../shared
