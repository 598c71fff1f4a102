package docgen

// The generator's own word lists, written for it and independent of the
// detector's dictionaries: given names and surnames from many origins
// (several absent from the 1990 US Census lists), invented place names,
// and common drugs.

var femaleFirst = []string{
	"Theodora", "Zofia", "Maria", "Aisha", "Ngozi", "Siobhan", "Xochitl", "Priya", "Mei", "Fatima",
	"Ingrid", "Lakshmi", "Yesenia", "Dolores", "Bernadette", "Gwendolyn", "Oluwaseun", "Anaya", "Thi",
	"Margaret", "Linda", "Patricia", "Jennifer", "Elizabeth", "Susan", "Dorothy", "Barbara", "Carmen",
	"Rosalind", "Imelda", "Keiko", "Svetlana", "Agnieszka", "Beatriz", "Nadia", "Leticia", "Hannah",
	"Olivia", "Chloe", "Maeve", "Saoirse", "Esperanza", "Yolanda", "Tamika", "Latoya", "Shanice",
	"Marisol", "Guadalupe", "Hyun", "Amara", "Chiamaka", "Wilhelmina", "Eleni", "Despina", "Ruth",
	"Annika", "Freya", "Ximena", "Valentina", "Paloma", "Noor", "Zainab", "Farida", "Thandiwe",
}

var maleFirst = []string{
	"Gregory", "Kwame", "Kofi", "Jorge", "Mateo", "Aarav", "Dmitri", "Kenji", "Tariq", "Yusuf",
	"Bao", "Thanh", "Jamal", "Darnell", "Emeka", "Chukwuemeka", "Rajesh", "Sanjay", "Wei", "Hiroshi",
	"James", "Robert", "Michael", "William", "Richard", "Thomas", "Charles", "Christopher", "Daniel",
	"Stanislaw", "Piotr", "Lars", "Bjorn", "Anders", "Tomasz", "Mehmet", "Omar", "Hamza", "Kareem",
	"Santiago", "Alejandro", "Ignacio", "Rafael", "Desmond", "Reginald", "Cornelius", "Thaddeus",
	"Ezekiel", "Malachi", "Tobias", "Cormac", "Declan", "Niall", "Ruairi", "Arjun", "Vikram",
	"Minh", "Quang", "Tuan", "Obinna", "Chidi", "Abdullahi", "Ibrahim", "Moshe", "Yitzhak",
}

var surnames = []string{
	"Vasquez-Whitfield", "Wrzesniewska", "Okafor", "Nguyen", "Abernathy", "Castellanos", "Oyelaran",
	"Szymanski", "Papadopoulos", "Kowalczyk", "Haddad", "Ramaswamy", "Delacroix", "O'Sullivan",
	"McAllister", "Fitzgerald", "Yamamoto", "Chaudhry", "Mensah", "Adeyemi", "Okonkwo", "Gonzalez",
	"Ruiz", "Hernandez", "Rodriguez", "Kim", "Park", "Tran", "Pham", "Le", "Smith", "Johnson",
	"Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Anderson", "Taylor",
	"Thomas", "Moore", "Jackson", "White", "Harris", "Thompson", "Young", "King", "Wright", "Hill",
	"Green", "Baker", "Nakamura", "Takahashi", "Petrov", "Ivanova", "Lindqvist", "Johansson",
	"Bergstrom", "Moreau", "Lefebvre", "Rossi", "Esposito", "Bianchi", "Schneider", "Fischer",
	"Weber", "Becker", "Hoffmann", "Kaczmarek", "Nowak", "Wojcik", "Dlamini", "Ndlovu", "Mwangi",
	"Otieno", "Achterberg", "Van Houten", "De la Cruz", "Quintanilla", "Villarreal", "Zamora",
	"Balogun", "Eze", "Nwosu", "Ibekwe", "Farouk", "Al-Masri", "Khoury", "Nasser", "Bhattacharya",
	"Subramanian", "Venkataraman", "Iyer", "Reddy", "Sandoval", "Trujillo", "Gallegos", "Ostrowski",
	"Halvorsen", "Thorsen", "Eriksen", "Mbeki", "Tshabalala", "Oduya", "Kipkemboi", "Aldana",
}

var nicknames = map[string]string{
	"Theodora": "Teddy", "Zofia": "Zosia", "Margaret": "Peggy", "Elizabeth": "Betsy", "Patricia": "Trish",
	"William": "Bill", "Robert": "Bobby", "Richard": "Dick", "Thomas": "Tommy", "Gwendolyn": "Gwen",
	"Christopher": "Kit", "Dorothy": "Dot", "Bernadette": "Bernie", "Wilhelmina": "Mina", "Alejandro": "Alex",
}

// cities are small towns and invented names, with a state.
var cities = [][2]string{
	{"Harlow Springs", "IL"}, {"Quenby", "OH"}, {"Maple Grove", "MN"}, {"Cedar Falls", "IA"},
	{"Brookhaven", "GA"}, {"Fairview", "TN"}, {"Riverton", "WY"}, {"Lakewood", "CO"},
	{"Oak Hollow", "TX"}, {"Millbrook", "NY"}, {"Glenwood", "AR"}, {"Westfield", "NJ"},
	{"Pine Bluff", "AR"}, {"Sugar Land", "TX"}, {"Chula Vista", "CA"}, {"Eau Claire", "WI"},
	{"Coeur d'Alene", "ID"}, {"Bellwether", "VT"}, {"Tarrytown", "NY"}, {"Kettering", "OH"},
	{"Ashbury", "PA"}, {"Dunmore", "PA"}, {"Wexford", "NC"}, {"Las Cruces", "NM"}, {"Saint Cloud", "MN"},
	{"Fort Pierce", "FL"}, {"Mount Vernon", "WA"}, {"Port Angeles", "WA"}, {"New Braunfels", "TX"},
	{"Winslow", "AZ"}, {"Greeley", "CO"}, {"Yakima", "WA"}, {"Muncie", "IN"}, {"Pocatello", "ID"},
}

var stateName = map[string]string{
	"IL": "Illinois", "OH": "Ohio", "MN": "Minnesota", "IA": "Iowa", "GA": "Georgia", "TN": "Tennessee",
	"WY": "Wyoming", "CO": "Colorado", "TX": "Texas", "NY": "New York", "AR": "Arkansas", "NJ": "New Jersey",
	"CA": "California", "WI": "Wisconsin", "ID": "Idaho", "VT": "Vermont", "PA": "Pennsylvania",
	"NC": "North Carolina", "NM": "New Mexico", "FL": "Florida", "WA": "Washington", "IN": "Indiana", "AZ": "Arizona",
}

var streetNames = []string{
	"Wrenfield", "Birch Hollow", "Oak", "Maple", "Lakeshore", "Quarry", "Old Mill", "Willow Bend",
	"Chestnut", "Harbor View", "Juniper", "Cottonwood", "Elm", "Sycamore", "Magnolia", "Ridgecrest",
	"Foxglove", "Martin Luther King Jr", "Third", "12th", "Main", "Church", "Prairie Wind", "Aldergate",
}

var drugs = []string{
	"metformin", "lisinopril", "atorvastatin", "amlodipine", "levothyroxine", "omeprazole", "losartan",
	"metoprolol", "gabapentin", "sertraline", "Eliquis", "Jardiance", "Ozempic", "Lipitor", "Synthroid",
	"Xarelto", "Trulicity", "warfarin", "prednisone", "albuterol", "tamsulosin", "Lasix", "Norvasc",
}
